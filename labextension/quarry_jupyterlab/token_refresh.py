"""Keeps the web identity token file fresh from JupyterHub.

On a Quarry hub the spawner sets `QUARRY_ID_TOKEN_FROM_HUB=1` and
`AWS_WEB_IDENTITY_TOKEN_FILE`; the hub keeps the user's OpenID Connect ID
token fresh (refresh token) and hands this server its user's current ID
token — that token only — at `hub/api/quarry/id-token`. This Jupyter
Server extension polls the hub and rewrites the file whenever the token
changes, so the kernel and the panel backend can re-assume S3 credentials
on their own long after the first token expired.

Polling the hub also drives the refresh: JupyterHub refreshes a user's
tokens when that user's requests come in and the last refresh is older
than `auth_refresh_age`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import PeriodicCallback

#: How often the hub is asked, in seconds.
DEFAULT_INTERVAL_S = 60


def token_file(env=os.environ) -> str:
    """The pod's token file: AWS_WEB_IDENTITY_TOKEN_FILE with a role,
    QUARRY_WEB_IDENTITY_TOKEN_FILE in MinIO's claim mode (the AWS SDKs
    refuse a token file without a role; Quarry reads either)."""
    return env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("QUARRY_WEB_IDENTITY_TOKEN_FILE") or ""


def enabled(env=os.environ) -> bool:
    return (
        env.get("QUARRY_ID_TOKEN_FROM_HUB") == "1"
        and bool(token_file(env))
        and bool(env.get("JUPYTERHUB_API_URL"))
        and bool(env.get("JUPYTERHUB_API_TOKEN"))
        and bool(env.get("JUPYTERHUB_USER"))
    )


def write_token(path: Path, token: str) -> bool:
    """Atomically replaces the file (readers never see half a token), owner
    read/write only. Returns whether the content changed."""
    try:
        if path.read_text() == token:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".token-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


class TokenRefresher:
    def __init__(self, log, env=os.environ):
        self.log = log
        self.path = Path(token_file(env))
        # The hub hook's endpoint: the caller's own ID token, nothing more.
        self.url = "{}/quarry/id-token".format(env["JUPYTERHUB_API_URL"].rstrip("/"))
        self.api_token = env["JUPYTERHUB_API_TOKEN"]
        self.interval_s = float(env.get("QUARRY_TOKEN_REFRESH_SECONDS", DEFAULT_INTERVAL_S))
        self._failing = False

    async def refresh(self) -> None:
        request = HTTPRequest(
            self.url,
            headers={"Authorization": f"token {self.api_token}"},
            request_timeout=20,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
            token = json.loads(response.body).get("id_token")
            if not token:
                raise RuntimeError("the hub returned no ID token")
            if write_token(self.path, token):
                self.log.info("Quarry: refreshed the web identity token in %s", self.path)
            self._failing = False
        except Exception as e:  # keep the server up; say it once
            if not self._failing:
                self.log.warning("Quarry: could not get a fresh ID token from the hub: %s", e)
            self._failing = True

    def start(self) -> None:
        PeriodicCallback(self.refresh, self.interval_s * 1000).start()


def _jupyter_server_extension_points():
    return [{"module": "quarry_jupyterlab.token_refresh"}]


def _load_jupyter_server_extension(server_app):
    if not enabled():
        return
    refresher = TokenRefresher(server_app.log)
    server_app.io_loop.add_callback(refresher.refresh)
    refresher.start()
    server_app.log.info("Quarry: keeping %s fresh from the hub", refresher.path)
