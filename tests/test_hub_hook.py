"""The hub's pre-spawn and token-refresh hooks (images/hub/quarry_hub_hook.py)
against SeaweedFS's real STS, and the pod-side token refresher
(quarry_jupyterlab.token_refresh) against a hub-shaped HTTP endpoint."""

import asyncio
import json
import logging
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import boto3
import pytest

from support.ports import free_ports
from support.seaweed import ROLE_ARN, Seaweed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "images" / "hub"))
import quarry_hub_hook as hook  # noqa: E402

from quarry_jupyterlab import token_refresh  # noqa: E402

LOG = logging.getLogger("test-hub-hook")


class User:
    def __init__(self, name, auth_state):
        self.name = name
        self._auth_state = auth_state

    async def get_auth_state(self):
        return self._auth_state


class Spawner:
    """The part of a JupyterHub Spawner the hook uses."""

    def __init__(self, user):
        self.user = user
        self.environment = {}
        self.log = LOG


@pytest.fixture(scope="module")
def claim_mode_s3(oidc, tmp_path_factory):
    """SeaweedFS in MinIO's claim mode: the `policy` claim names the policy."""
    with Seaweed(tmp_path_factory.mktemp("claims"), oidc, user_buckets=("data",),
                 claim_policies={"data-rw": ["data"]}) as s3:
        for bucket in ("data", "other"):
            s3.create_bucket(bucket)
        yield s3


def spawn(settings, auth_state, name="alice"):
    spawner = Spawner(User(name, auth_state))
    asyncio.run(hook.pre_spawn_hook(spawner, settings))
    return spawner.environment


KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def s3_client(env, token):
    """S3 as the pod reaches it: no keys in its environment, so it exchanges
    the web identity token itself at the STS endpoint it was given."""
    assert not any(key in env for key in KEYS), "S3 keys must not be in the server's environment"
    settings = hook.Settings(
        s3_endpoint=env["AWS_ENDPOINT_URL_S3"], sts_endpoint=env["AWS_ENDPOINT_URL_STS"], role_arn=env.get("AWS_ROLE_ARN", "")
    )
    credentials = asyncio.run(hook.assume_role_with_web_identity(settings, token, "pod"))
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=env["AWS_REGION"],
    )


def refusal(settings, auth_state):
    with pytest.raises(hook.StsRefused) as refused:
        spawn(settings, auth_state)
    message = str(refused.value)
    assert "Traceback" not in message and "<Error>" not in message
    return message


def test_claim_mode_gives_the_policy_the_token_names(oidc, claim_mode_s3):
    settings = hook.Settings(s3_endpoint=claim_mode_s3.endpoint, sts_endpoint=claim_mode_s3.endpoint)
    token = oidc.mint("alice", policy="data-rw")
    env = spawn(settings, {"id_token": token, "refresh_token": "r"})
    # Claim mode: the token file under a name only Quarry reads (the AWS
    # SDKs refuse one without a role), and the SDKs' credential source.
    assert env["QUARRY_WEB_IDENTITY_TOKEN_FILE"] == hook.DEFAULT_TOKEN_FILE
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" not in env
    assert env["AWS_CONFIG_FILE"] == hook.DEFAULT_AWS_CONFIG_FILE
    assert env["QUARRY_ID_TOKEN_FROM_HUB"] == "1"
    assert "AWS_ROLE_ARN" not in env
    client = s3_client(env, token)
    client.put_object(Bucket="data", Key="from-hook.txt", Body=b"ok")
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.put_object(Bucket="other", Key="nope.txt", Body=b"no")


def test_role_mode_with_the_token_in_the_token_response(oidc, seaweed):
    settings = hook.Settings(s3_endpoint=seaweed.endpoint, sts_endpoint=seaweed.endpoint, role_arn=ROLE_ARN)
    token = oidc.mint("bob")
    env = spawn(settings, {"token_response": {"id_token": token}}, name="bob")
    assert env["AWS_ROLE_ARN"] == ROLE_ARN
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == hook.DEFAULT_TOKEN_FILE
    assert s3_client(env, token).list_objects_v2(Bucket="data")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert repr(hook.parse_credentials(
        "<R><AccessKeyId>AKIAXYZ</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>"
        "<SessionToken>tok</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></R>"
    )).count("s3cr3t") == 0


def test_each_refusal_is_one_clear_sentence(oidc, claim_mode_s3, tmp_path):
    settings = hook.Settings(s3_endpoint=claim_mode_s3.endpoint, sts_endpoint=claim_mode_s3.endpoint)
    assert "has no S3 policy" in refusal(settings, {"id_token": oidc.mint("carol")})
    # SeaweedFS issues credentials for an unknown policy name (they can do
    # nothing); MinIO refuses at STS. The wording of such a refusal:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        "<Code>InvalidParameterValue</Code><Message>Policy no-such-policy does not exist</Message>"
        "</Error></ErrorResponse>"
    )
    token = oidc.mint("carol", policy="no-such-policy")
    message = hook.explain_refusal(400, body, token, settings)
    assert message == (
        "The S3 server refused your S3 policy ('no-such-policy'): Policy no-such-policy does not exist. "
        "Ask an administrator to check that the policy exists on the S3 server."
    )
    env = spawn(settings, {"id_token": token})
    with pytest.raises(Exception, match="AccessDenied"):
        s3_client(env, token).list_objects_v2(Bucket="data")
    assert "login has expired" in refusal(settings, {"id_token": oidc.mint("carol", lifetime=-60, policy="data-rw")})
    assert "No login token is stored" in refusal(settings, None)
    assert "No login token is stored" in refusal(settings, {"access_token": "only"})
    (closed,) = free_ports(1)
    down = hook.Settings(s3_endpoint=f"http://127.0.0.1:{closed}", sts_endpoint=f"http://127.0.0.1:{closed}")
    assert "could not be reached" in refusal(down, {"id_token": oidc.mint("carol", policy="data-rw")})
    with pytest.raises(hook.StsRefused, match="set QUARRY_S3_ENDPOINT"):
        hook.Settings.from_env({})


class Authenticator:
    """The part of OAuthenticator the refresh hook uses."""

    manage_groups = True

    def __init__(self, oidc, fail=False):
        self.oidc = oidc
        self.fail = fail
        self.log = LOG
        self.calls = []

    async def token_to_user(self, token_info):
        return hook.token_claims(token_info["id_token"])

    def build_auth_state_dict(self, token_info, user_info):
        return {
            "access_token": token_info["access_token"],
            "refresh_token": token_info.get("refresh_token"),
            "id_token": token_info.get("id_token"),
            "token_response": token_info,
            "oauth_user": user_info,
        }

    async def update_auth_model(self, model):
        model["admin"] = "quarry-admins" in model["auth_state"]["oauth_user"].get("groups", [])
        return model

    async def get_user_groups(self, auth_state):
        return set(auth_state["oauth_user"].get("groups", []))

    def build_refresh_token_request_params(self, refresh_token):
        return {"grant_type": "refresh_token", "refresh_token": refresh_token}

    async def get_token_info(self, handler, params):
        self.calls.append(params)
        if self.fail:
            raise self.fail
        return {
            "access_token": "new-access",
            "id_token": self.oidc.mint("alice", lifetime=600, groups=["quarry-users", "quarry-admins"]),
        }


def test_refresh_hook_renews_tokens_past_half_their_life(oidc):
    fresh = {"id_token": oidc.mint("alice", lifetime=600), "refresh_token": "r1", "access_token": "a"}
    authenticator = Authenticator(oidc)
    assert asyncio.run(hook.refresh_user_hook(authenticator, User("alice", fresh), fresh)) is True
    assert authenticator.calls == []

    old = {"id_token": oidc.mint("alice", lifetime=20, iat=int(time.time()) - 100), "refresh_token": "r1"}
    model = asyncio.run(hook.refresh_user_hook(authenticator, User("alice", old), old))
    assert authenticator.calls == [{"grant_type": "refresh_token", "refresh_token": "r1"}]
    state = model["auth_state"]
    assert state["id_token"] != old["id_token"] and state["refresh_token"] == "r1"
    # JupyterHub (manage_groups) refuses refreshed models without groups.
    assert model["groups"] == ["quarry-admins", "quarry-users"] and model["admin"] is True
    assert hook.token_claims(state["id_token"])["exp"] > time.time() + 500

    # The provider says no (invalid_grant is a 400): log in again.
    from tornado.httpclient import HTTPClientError

    refused = Authenticator(oidc, fail=HTTPClientError(400, "invalid_grant"))
    assert asyncio.run(hook.refresh_user_hook(refused, User("alice", old), old)) is False
    # The provider is briefly unreachable or failing: stay logged in.
    for transient in (ConnectionRefusedError(111, "Connection refused"), HTTPClientError(599, "Timeout"), HTTPClientError(503)):
        flaky = Authenticator(oidc, fail=transient)
        assert asyncio.run(hook.refresh_user_hook(flaky, User("alice", old), old)) is True, transient
    # Without a refresh token the default handling applies.
    assert asyncio.run(hook.refresh_user_hook(refused, User("a", {"id_token": "x"}), {"id_token": "x"})) is None


class FakeHub:
    """`GET /hub/api/quarry/id-token` answering with the current ID token."""

    def __init__(self):
        (self.port,) = free_ports(1)
        self.token = "first"
        self.requests = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hub.requests.append((self.path, self.headers.get("Authorization")))
                body = json.dumps({"id_token": hub.token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_the_pod_keeps_the_token_file_fresh_from_the_hub(tmp_path):
    hub = FakeHub()
    try:
        path = tmp_path / "nested" / "web-identity-token"
        env = {
            "QUARRY_ID_TOKEN_FROM_HUB": "1",
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(path),
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.port}/hub/api",
            "JUPYTERHUB_API_TOKEN": "server-token",
            "JUPYTERHUB_USER": "alice",
        }
        assert token_refresh.enabled(env)
        assert not token_refresh.enabled({**env, "QUARRY_ID_TOKEN_FROM_HUB": "0"})
        refresher = token_refresh.TokenRefresher(LOG, env)
        asyncio.run(refresher.refresh())
        assert path.read_text() == "first"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert hub.requests == [("/hub/api/quarry/id-token", "token server-token")]
        hub.token = "second"
        asyncio.run(refresher.refresh())
        assert path.read_text() == "second"
        assert [p.name for p in path.parent.iterdir()] == ["web-identity-token"]
    finally:
        hub.close()


def test_a_full_disk_keeps_the_old_token_and_says_so_once(tmp_path, monkeypatch, caplog):
    """The refresher cannot write (ENOSPC): the old token stays whole, the
    failure is logged once (not every minute), and it recovers."""
    import errno
    import logging
    import tempfile as tempfile_module

    hub = FakeHub()
    try:
        path = tmp_path / "web-identity-token"
        path.write_text("old")
        env = {
            "QUARRY_ID_TOKEN_FROM_HUB": "1",
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(path),
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.port}/hub/api",
            "JUPYTERHUB_API_TOKEN": "server-token",
            "JUPYTERHUB_USER": "alice",
        }
        log = logging.getLogger("quarry-refresher-test")
        refresher = token_refresh.TokenRefresher(log, env)
        real_mkstemp = tempfile_module.mkstemp

        def full_disk(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(token_refresh.tempfile, "mkstemp", full_disk)
        with caplog.at_level(logging.WARNING, logger="quarry-refresher-test"):
            for _ in range(3):
                asyncio.run(refresher.refresh())
        assert path.read_text() == "old"
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1 and "No space left on device" in warnings[0], warnings
        assert [p.name for p in tmp_path.iterdir()] == ["web-identity-token"], "no half-written file"
        monkeypatch.setattr(token_refresh.tempfile, "mkstemp", real_mkstemp)
        asyncio.run(refresher.refresh())
        assert path.read_text() == "first"
    finally:
        hub.close()
