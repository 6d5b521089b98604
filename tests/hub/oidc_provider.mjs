// An OpenID Connect provider standing in for Keycloak in the hub end-to-end
// test: the OpenID-certified `oidc-provider` package, configured with the
// claims the realm export (images/hub/keycloak-realm.json) maps into tokens
// (preferred_username, groups, policy), refresh tokens, and short-lived ID
// tokens so the refresh chain is exercised.
//
// Configuration comes as JSON in OIDC_CONFIG:
//   {port, clientId, clientSecret, redirectUris: [...], idTokenTtl,
//    users: {name: {groups: [...], policy: "..."}}}
// Logging in uses oidc-provider's development login form (any password).
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_CONFIG);
const issuer = `http://127.0.0.1:${config.port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'quarry-test', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.clientId,
      client_secret: config.clientSecret,
      redirect_uris: config.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic'
    }
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  // Keycloak's protocol mappers put these in every ID token and userinfo.
  claims: {
    openid: ['sub', 'preferred_username', 'groups', 'policy'],
    email: ['email', 'email_verified']
  },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => {
    const user = config.users[id];
    if (!user) {
      return undefined;
    }
    return {
      accountId: id,
      claims: async () => ({
        sub: id,
        preferred_username: id,
        email: `${id}@example.org`,
        email_verified: true,
        groups: user.groups,
        ...(user.policy ? { policy: user.policy } : {})
      })
    };
  },
  // Skip the consent screen: the realm's client is first-party.
  loadExistingGrant: async ctx => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId
    });
    grant.addOIDCScope('openid email profile offline_access');
    await grant.save();
    return grant;
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true } },
  ttl: {
    AccessToken: config.idTokenTtl,
    IdToken: config.idTokenTtl,
    RefreshToken: 3600,
    Grant: 3600,
    Session: 3600,
    Interaction: 600
  }
});

// Unknown users cannot log in (the dev form accepts any name otherwise).
provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
