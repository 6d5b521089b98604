"""JupyterHub glue for Quarry: each user's namespace, S3 access and ID token.

Mounted into the hub with `hub.extraFiles` (see values.yaml) and wired with
`configure(c)` from `hub.extraConfig`. Four jobs:

1. **Pre-spawn**: with KubeSpawner's user namespaces, make the user's
   namespace and everything in it (`quarry_tenancy`); then check that the
   user's OpenID Connect ID token (kept in `auth_state` by
   GenericOAuthenticator) gets S3 credentials at the S3 server's STS
   (`AssumeRoleWithWebIdentity`; MinIO takes the policy from the token's
   `policy` claim), so a refusal is one sentence on the spawn page. The
   credentials themselves never go into the pod spec: the server gets the
   endpoint and `AWS_WEB_IDENTITY_TOKEN_FILE`, and the kernel and the panel
   exchange the token themselves (the credentials contract in the README).
2. **Token refresh**: Keycloak ID tokens live minutes, so the hub refreshes
   them with the refresh token before they expire (`refresh_user_hook`); a
   provider that is briefly unreachable does not log anyone out.
3. **Token hand-over**: `GET /hub/api/quarry/id-token` answers the calling
   server with its own user's current ID token, and nothing else — not the
   refresh token, not anyone else's. `quarry_jupyterlab`'s server extension
   writes it to `AWS_WEB_IDENTITY_TOKEN_FILE` (a memory-backed volume). No
   role needs `admin:auth_state`.
4. A refusal at spawn is one sentence the user sees on the spawn page.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.user import User
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

#: Where the pod keeps the current ID token (the server extension writes
#: it): a memory-backed volume (values.yaml), never the home volume.
DEFAULT_TOKEN_FILE = "/run/quarry/web-identity-token"
#: Where images/scripts/install-singleuser.sh writes the AWS config file (the
#: image's Python prefix is /opt/conda).
DEFAULT_AWS_CONFIG_FILE = "/opt/conda/etc/quarry/aws-config"
#: Refresh ID tokens with less than this fraction of their life left.
REFRESH_WHEN_LEFT = 0.5


@dataclass
class Settings:
    """What the hook needs to know, from the hub's environment."""

    #: S3 endpoint the pods use (e.g. http://minio.minio:9000).
    s3_endpoint: str
    #: STS endpoint as the hub reaches it (MinIO serves STS on the S3 port).
    sts_endpoint: str
    region: str = "us-east-1"
    #: Empty for MinIO's claim mode (policy from the `policy` claim).
    role_arn: str = ""
    duration_seconds: int = 3600
    token_file: str = DEFAULT_TOKEN_FILE
    #: The AWS config file the image ships (images/scripts/install-singleuser.sh):
    #: its `credential_process` is `quarry aws-credentials`, so boto3, s3fs,
    #: polars and pyarrow get renewing keys from the same token exchange.
    aws_config_file: str = DEFAULT_AWS_CONFIG_FILE

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        endpoint = env.get("QUARRY_S3_ENDPOINT", "")
        if not endpoint:
            raise StsRefused("The hub is not configured: set QUARRY_S3_ENDPOINT to the S3 endpoint URL.")
        return cls(
            s3_endpoint=endpoint,
            sts_endpoint=env.get("QUARRY_STS_ENDPOINT", endpoint),
            region=env.get("QUARRY_S3_REGION", "us-east-1"),
            role_arn=env.get("QUARRY_STS_ROLE_ARN", ""),
            duration_seconds=int(env.get("QUARRY_STS_DURATION_SECONDS", "3600")),
            token_file=env.get("QUARRY_TOKEN_FILE", DEFAULT_TOKEN_FILE),
            aws_config_file=env.get("QUARRY_AWS_CONFIG_FILE", DEFAULT_AWS_CONFIG_FILE),
        )


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: str

    def __repr__(self):
        # Never print secrets, even in a debug log.
        return f"Credentials(access_key_id={self.access_key_id[:4]}…, expiration={self.expiration})"


class StsRefused(web.HTTPError):
    """The S3 server would not give this user credentials; the message is
    one sentence for the spawn page. An HTTPError, because JupyterHub passes
    those through to its error page (anything else becomes "Unhandled error
    starting server")."""

    def __init__(self, message: str):
        super().__init__(403, message, reason="No S3 access")
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def jupyterhub_message(self) -> str:
        return self.message


def token_claims(token: str) -> dict:
    """The claims of a JWT, unverified (the STS verifies it; the hub only
    reads `exp` and `policy` to explain problems)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return {}


def id_token_of(auth_state: dict | None) -> str | None:
    if not auth_state:
        return None
    return auth_state.get("id_token") or (auth_state.get("token_response") or {}).get("id_token")


async def assume_role_with_web_identity(settings: Settings, id_token: str, session_name: str) -> Credentials:
    """Calls STS `AssumeRoleWithWebIdentity` (an unsigned POST, as MinIO and
    AWS accept it) and returns the credentials, or raises StsRefused."""
    params = {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "WebIdentityToken": id_token,
        "RoleSessionName": session_name[:64].ljust(2, "-"),
        "DurationSeconds": str(settings.duration_seconds),
    }
    if settings.role_arn:
        params["RoleArn"] = settings.role_arn
    request = HTTPRequest(
        settings.sts_endpoint,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(params),
        request_timeout=20,
    )
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        body = e.response.body.decode(errors="replace") if e.response is not None else ""
        raise StsRefused(explain_refusal(e.code, body, id_token, settings)) from None
    except OSError as e:
        raise StsRefused(
            f"The S3 server's STS at {settings.sts_endpoint} could not be reached ({e.strerror or e}); "
            "check QUARRY_STS_ENDPOINT and that the S3 service is running."
        ) from None
    return parse_credentials(response.body.decode())


def parse_credentials(xml: str) -> Credentials:
    root = ET.fromstring(xml)

    def find(name):
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == name and element.text:
                return element.text.strip()
        raise StsRefused(f"The STS answer had no {name}; is QUARRY_STS_ENDPOINT really an STS endpoint?")

    return Credentials(
        access_key_id=find("AccessKeyId"),
        secret_access_key=find("SecretAccessKey"),
        session_token=find("SessionToken"),
        expiration=find("Expiration"),
    )


def explain_refusal(status: int, body: str, id_token: str, settings: Settings) -> str:
    """One sentence for why STS said no, from its error and the token."""
    code = _xml_text(body, "Code") or f"HTTP {status}"
    message = _xml_text(body, "Message") or ""
    claims = token_claims(id_token)
    if claims.get("exp") and claims["exp"] < time.time():
        return "Your login has expired: log out and log in again to get S3 access."
    if not settings.role_arn and not claims.get("policy"):
        return (
            "Your account has no S3 policy: ask an administrator to set the 'policy' attribute "
            "for you in Keycloak (the token has no 'policy' claim)."
        )
    if "policy" in message.lower() or code in ("AccessDenied", "InvalidParameterValue"):
        policy = claims.get("policy")
        named = f" ('{policy}')" if policy else ""
        return (
            f"The S3 server refused your S3 policy{named}: {message or code}. "
            "Ask an administrator to check that the policy exists on the S3 server."
        )
    return f"The S3 server refused to issue credentials ({code}{': ' + message if message else ''})."


def _xml_text(body: str, name: str) -> str | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name and element.text:
            return element.text.strip()
    return None


def token_file_variable(settings: Settings) -> str:
    """The variable naming the pod's token file: AWS_WEB_IDENTITY_TOKEN_FILE
    with a role; QUARRY_WEB_IDENTITY_TOKEN_FILE in claim mode."""
    return "AWS_WEB_IDENTITY_TOKEN_FILE" if settings.role_arn else "QUARRY_WEB_IDENTITY_TOKEN_FILE"


def environment_for(settings: Settings, username: str) -> dict:
    """The credentials contract for the user's server: where S3 and STS are
    and where the web identity token is — no keys, which a pod spec would
    show to anyone who may read it. A `{username}` in the token file path
    (local spawners) is the user's."""
    return {
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint,
        "AWS_ENDPOINT_URL_STS": settings.s3_endpoint,
        "AWS_REGION": settings.region,
        # With a role, the name every AWS SDK reads; without one (MinIO's
        # claim mode) a name only Quarry reads, since the SDKs refuse to
        # start on a token file without a role.
        token_file_variable(settings): settings.token_file.replace("{username}", username),
        **({"AWS_ROLE_ARN": settings.role_arn} if settings.role_arn else {}),
        # Every AWS SDK in the pod: no SDK exchanges a web identity token
        # without a role (MinIO's claim mode has none), so the config file
        # names `quarry aws-credentials` as their credential source.
        "AWS_CONFIG_FILE": settings.aws_config_file,
        # Tells quarry_jupyterlab to keep the token file fresh from the hub.
        "QUARRY_ID_TOKEN_FROM_HUB": "1",
    }


async def prepare_namespace(spawner, api=None, tenancy=None):
    """With KubeSpawner's user namespaces, creates or updates the user's
    namespace and everything in it (quarry_tenancy) before the pod is made;
    other spawners (tests, local hubs) have nothing to prepare."""
    if not getattr(spawner, "enable_user_namespaces", False):
        return
    import quarry_tenancy

    api = api or quarry_tenancy.KubeApi.in_cluster()
    await quarry_tenancy.ensure_user_namespace(
        api, spawner.namespace, spawner.user.name, tenancy or quarry_tenancy.TenancySettings.from_env()
    )
    spawner.log.info("Namespace %s is ready for %s", spawner.namespace, spawner.user.name)


async def pre_spawn_hook(spawner, settings: Settings | None = None):
    """`Spawner.pre_spawn_hook`: the user's namespace, then S3 credentials
    into the server's env."""
    await prepare_namespace(spawner)
    settings = settings or Settings.from_env()
    auth_state = await spawner.user.get_auth_state()
    id_token = id_token_of(auth_state)
    if not id_token:
        raise StsRefused(
            "No login token is stored for you (auth_state is empty): log out and log in again; "
            "administrators: enable_auth_state must be on."
        )
    # Checked here so that a refusal is explained on the spawn page; the
    # server makes its own credentials from the token file.
    credentials = await assume_role_with_web_identity(settings, id_token, f"jupyterhub-{spawner.user.name}")
    spawner.environment.update(environment_for(settings, spawner.user.name))
    spawner.log.info("S3 access checked for %s (credentials until %s)", spawner.user.name, credentials.expiration)


async def refresh_user_hook(authenticator, user, auth_state):
    """`OAuthenticator.refresh_user_hook`: refreshes the tokens with the
    refresh token once the ID token has used up half its life, so the pod
    always finds a valid one. Returns None (default handling) otherwise."""
    id_token = id_token_of(auth_state)
    refresh_token = (auth_state or {}).get("refresh_token")
    if not id_token or not refresh_token:
        return None
    claims = token_claims(id_token)
    issued, expires = claims.get("iat"), claims.get("exp")
    if not issued or not expires:
        return None
    left = expires - time.time()
    if left > (expires - issued) * REFRESH_WHEN_LEFT:
        return True
    params = authenticator.build_refresh_token_request_params(refresh_token)
    try:
        token_info = await authenticator.get_token_info(None, params)
    except Exception as e:
        if refresh_was_refused(e):
            # invalid_grant and friends: the session is over, log in again.
            authenticator.log.info("The provider refused to refresh the tokens of %s (%s); asking for a new login", user.name, e)
            return False
        # Unreachable, timed out, 5xx: keep the user logged in and try again
        # on their next request; the pod keeps its current token meanwhile.
        authenticator.log.warning("Could not refresh the tokens of %s for now (%s); will retry", user.name, e)
        return True
    token_info.setdefault("refresh_token", refresh_token)
    model = await auth_model_for(authenticator, user, token_info)
    authenticator.log.info("Refreshed the ID token of %s", user.name)
    return model


async def auth_model_for(authenticator, user, token_info):
    """The auth model `authenticate` would build from `token_info` (user
    info, auth_state, admin and, with manage_groups, the groups — JupyterHub
    refuses a refreshed model without them), through OAuthenticator's public
    methods."""
    user_info = await authenticator.token_to_user(token_info)
    auth_state = authenticator.build_auth_state_dict(token_info, user_info)
    if inspect.isawaitable(auth_state):
        auth_state = await auth_state
    model = await authenticator.update_auth_model({"name": user.name, "admin": None, "auth_state": auth_state})
    if getattr(authenticator, "manage_groups", False):
        groups = authenticator.get_user_groups(auth_state)
        if inspect.isawaitable(groups):
            groups = await groups
        model["groups"] = sorted(groups)
    return model


def refresh_was_refused(error: Exception) -> bool:
    """Whether a failed refresh was the provider saying no (the refresh
    token is invalid or revoked: HTTP 400/401/403, e.g. `invalid_grant`),
    as opposed to the provider being unreachable or failing (timeouts,
    connection errors, 5xx), after which the user should stay logged in."""
    if isinstance(error, HTTPClientError):
        return error.code in (400, 401, 403)
    if isinstance(error, web.HTTPError):
        return error.status_code in (400, 401, 403)
    return False


def is_server_token(user, orm_token) -> bool:
    """Whether `orm_token` is the API token the hub made for one of `user`'s
    running servers (JupyterHub notes it "Server at <the server's URL>" at
    spawn and deletes it when the server stops). A token the user minted for
    another tool, or a browser session, is not — whatever its scopes."""
    if orm_token is None or orm_token.user is None or orm_token.user.id != user.id:
        return False
    return any(
        spawner.server is not None and orm_token.note == f"Server at {spawner.server.base_url}"
        for spawner in user.spawners.values()
    )


class IdTokenHandler(APIHandler):
    """`GET /hub/api/quarry/id-token`: the calling user's current ID token.

    A server's API token authenticates as its user; the answer is that
    user's own token and nothing else — no refresh token, no other user —
    so no role needs `admin:auth_state`. Authenticating refreshes the tokens
    when they are older than `auth_refresh_age` (JupyterHub's own rule).
    """

    async def get(self):
        user = self.current_user
        if not isinstance(user, User) or not is_server_token(user, self.get_token()):
            # Not a browser session, not a token the user made for another
            # tool (whatever its scopes): only the server's own.
            raise web.HTTPError(403, "Only a user's own running server may ask for the user's ID token.")
        token = id_token_of(await user.get_auth_state())
        if not token:
            raise web.HTTPError(404, "No ID token is stored for you: log out and log in again.")
        self.set_header("Cache-Control", "no-store")
        self.write({"id_token": token, "expires_at": token_claims(token).get("exp")})


def configure(c, settings: Settings | None = None):
    """Wires the hooks, the ID token endpoint and the roles into a
    JupyterHub config."""
    c.Spawner.pre_spawn_hook = lambda spawner: pre_spawn_hook(spawner, settings)
    c.GenericOAuthenticator.refresh_user_hook = refresh_user_hook
    c.GenericOAuthenticator.enable_auth_state = True
    # JupyterHub 3.1+ logs that extra_handlers are deprecated in favour of
    # services; a service would need every user's auth_state, this handler
    # reads only the caller's.
    c.JupyterHub.extra_handlers.append((r"/api/quarry/id-token", IdTokenHandler))
    c.JupyterHub.load_roles.extend(ROLES)


#: The group whose members administer the hub (Keycloak's `groups` claim).
ADMIN_GROUP = "quarry-admins"

#: JupyterHub's own `server` and `user` roles, spelled out so z2jh's
#: `hub.loadRoles` cannot widen them: neither reads auth_state. And the
#: administrators' role, used instead of JupyterHub's built-in `admin`
#: (whose `admin:users` includes `admin:auth_state`: every user's refresh
#: token): they manage users, groups and servers from the admin page but
#: cannot read anyone's tokens, make tokens for them or enter their servers.
ROLES = [
    {"name": "server", "scopes": ["users:activity!user", "access:servers!server", "read:users!user"]},
    {"name": "user", "scopes": ["self"]},
    {
        "name": "quarry-admin",
        "description": "Administers users, groups and servers; never reads auth_state or acts as a user",
        "scopes": ["admin-ui", "list:users", "users", "admin:servers", "admin:groups", "read:hub"],
        "groups": [ADMIN_GROUP],
    },
]
