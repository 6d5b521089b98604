"""JupyterHub glue for Quarry: S3 credentials for each user's server.

Mounted into the hub with `hub.extraFiles` (see values.yaml) and wired with
`configure(c)` from `hub.extraConfig`. Three jobs:

1. **Pre-spawn**: exchange the user's OpenID Connect ID token (kept in
   `auth_state` by GenericOAuthenticator) at the S3 server's STS
   (`AssumeRoleWithWebIdentity`; MinIO takes the policy from the token's
   `policy` claim) for temporary credentials, and put them, the endpoint and
   the web identity token file path into the server's environment (the
   credentials contract in DESIGN.md).
2. **Token refresh**: Keycloak ID tokens live minutes, so the hub refreshes
   them with the refresh token before they expire (`refresh_user_hook`).
3. **Token hand-over**: the server's own API token may read its user's
   `auth_state` (role `quarry-server`), so the pod fetches the current ID
   token from the hub and writes it to `AWS_WEB_IDENTITY_TOKEN_FILE`
   (`quarry_jupyterlab`'s server extension does); the kernel and the panel
   re-assume from that file before their credentials expire. No restart at
   expiry.

A refusal at spawn is one sentence the user sees on the spawn page.
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

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

#: Where the pod keeps the current ID token (the server extension writes it).
DEFAULT_TOKEN_FILE = "/home/jovyan/.local/share/quarry/web-identity-token"
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


def environment_for(settings: Settings, credentials: Credentials, username: str) -> dict:
    """The credentials contract (DESIGN.md) for the user's server. A
    `{username}` in the token file path (local spawners) is the user's."""
    return {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "AWS_CREDENTIAL_EXPIRATION": credentials.expiration,
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint,
        "AWS_ENDPOINT_URL_STS": settings.s3_endpoint,
        "AWS_REGION": settings.region,
        "AWS_WEB_IDENTITY_TOKEN_FILE": settings.token_file.replace("{username}", username),
        **({"AWS_ROLE_ARN": settings.role_arn} if settings.role_arn else {}),
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
    credentials = await assume_role_with_web_identity(settings, id_token, f"jupyterhub-{spawner.user.name}")
    spawner.environment.update(environment_for(settings, credentials, spawner.user.name))
    spawner.log.info("S3 credentials for %s until %s", spawner.user.name, credentials.expiration)


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
    except Exception as e:  # the provider's refusal: the user must log in again
        authenticator.log.info("Refreshing the tokens of %s failed (%s); asking for a new login", user.name, e)
        return False
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


def configure(c, settings: Settings | None = None):
    """Wires the hooks and the server role into a JupyterHub config."""
    c.Spawner.pre_spawn_hook = lambda spawner: pre_spawn_hook(spawner, settings)
    c.GenericOAuthenticator.refresh_user_hook = refresh_user_hook
    c.GenericOAuthenticator.enable_auth_state = True
    c.JupyterHub.load_roles.extend(ROLES)


#: JupyterHub's `server` role plus reading the own user's auth_state, so a
#: server can fetch its user's current ID token; and the `user` role with
#: the same scope, because a server token only gets scopes its user holds.
#: (Users can read their own tokens, which are theirs anyway.) z2jh:
#: `hub.loadRoles`.
ROLES = [
    {
        "name": "server",
        "scopes": ["users:activity!user", "access:servers!server", "read:users!user", "admin:auth_state!user"],
    },
    {"name": "user", "scopes": ["self", "admin:auth_state!user"]},
]
