"""JupyterHub with GenericOAuthenticator, Quarry's hub hook and a local
spawner, logging in against a real OpenID provider (tests/hub/): the
platform's login flow without Kubernetes."""

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from .ports import free_ports, wait_for_port
from .processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
HUB_DIR = ROOT / "tests" / "hub"
CLIENT_ID = "jupyterhub"


def node_modules():
    modules = HUB_DIR / "node_modules"
    if not (modules / "oidc-provider").is_dir():
        raise RuntimeError("tests/hub/node_modules is missing: run `cargo xtask setup` (npm ci in tests/hub)")
    return modules


class OidcProvider:
    """`oidc-provider` on a free port; `users` maps names to
    {groups, policy}."""

    def __init__(self, workdir, users, redirect_uri, id_token_ttl=3600):
        node_modules()
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.jwks_uri = f"{self.url}/jwks"
        self.client_id = CLIENT_ID
        self.client_secret = secrets.token_hex(16)
        config = {
            "port": self.port,
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "redirectUris": [redirect_uri],
            "idTokenTtl": id_token_ttl,
            "users": users,
        }
        self.log_path = Path(workdir) / "oidc-provider.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            ["node", str(HUB_DIR / "oidc_provider.mjs")],
            env={**os.environ, "OIDC_CONFIG": json.dumps(config)},
            cwd=HUB_DIR, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, timeout=30, process=self.process, what="oidc-provider")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        stop_process(self.process, timeout=10)
        self._log.close()


HUB_CONFIG = '''
import sys
sys.path.insert(0, {hook_dir!r})
from quarry_hub_hook import Settings, configure

c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.pid_file = {workdir!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {workdir!r} + "/hub.sqlite"
c.JupyterHub.cookie_secret_file = {workdir!r} + "/cookie_secret"
c.JupyterHub.authenticator_class = "generic-oauth"
c.Authenticator.enable_auth_state = True
c.Authenticator.auth_refresh_age = {auth_refresh_age}
c.Authenticator.refresh_pre_spawn = True
c.GenericOAuthenticator.client_id = {client_id!r}
c.GenericOAuthenticator.client_secret = {client_secret!r}
c.GenericOAuthenticator.oauth_callback_url = {callback!r}
c.GenericOAuthenticator.authorize_url = {issuer!r} + "/auth"
c.GenericOAuthenticator.token_url = {issuer!r} + "/token"
c.GenericOAuthenticator.userdata_url = {issuer!r} + "/me"
c.GenericOAuthenticator.login_service = "Keycloak"
c.GenericOAuthenticator.scope = ["openid", "profile", "email", "offline_access"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.claim_groups_key = "groups"
c.GenericOAuthenticator.allowed_groups = ["quarry-users", "quarry-admins"]
c.GenericOAuthenticator.manage_groups = True

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.default_url = "/lab"
c.Spawner.args = {server_args!r}
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.env_keep = ["PATH", "LANG", "JUPYTER_PATH", "QUARRY_BIN", "QUARRY_LOG"]
c.Spawner.environment = {spawner_env!r}

configure(c, Settings(
    s3_endpoint={s3!r},
    sts_endpoint={s3!r},
    duration_seconds=3600,
    token_file={token_file!r},
))
'''


class Hub:
    """JupyterHub on a free port (its own configurable-http-proxy)."""

    @staticmethod
    def pick_port():
        """The hub's public port, chosen first: the provider needs the
        callback URL before the hub can start."""
        (port,) = free_ports(1)
        return port

    @staticmethod
    def callback_url(port):
        return f"http://127.0.0.1:{port}/hub/oauth_callback"

    def __init__(self, workdir, port, provider, s3_endpoint, auth_refresh_age=300, spawner_env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.homes = self.workdir / "homes"
        self.homes.mkdir(exist_ok=True)
        hub_port, api_port = free_ports(2)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        callback = self.callback_url(port)
        self.provider = provider
        server_args = ["--LabApp.news_url=None", "--ServerApp.log_level=INFO"]
        if os.geteuid() == 0:
            server_args.append("--allow-root")
        config = HUB_CONFIG.format(
            hook_dir=str(ROOT / "images" / "hub"),
            bind_url=self.url + "/",
            hub_bind_url=f"http://127.0.0.1:{hub_port}",
            proxy_api_url=f"http://127.0.0.1:{api_port}",
            chp=str(node_modules() / ".bin" / "configurable-http-proxy"),
            workdir=str(self.workdir),
            auth_refresh_age=auth_refresh_age,
            client_id=self.provider.client_id,
            client_secret=self.provider.client_secret,
            callback=callback,
            issuer=self.provider.url,
            homes=str(self.homes),
            singleuser=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
            server_args=server_args,
            spawner_env=dict(spawner_env or {}),
            s3=s3_endpoint,
            token_file=str(self.homes) + "/{username}/.local/share/quarry/web-identity-token",
        )
        (self.workdir / "jupyterhub_config.py").write_text(config)
        env = {
            **os.environ,
            "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        self.log_path = self.workdir / "jupyterhub.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.workdir / "jupyterhub_config.py")],
            cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, timeout=60, process=self.process, what="JupyterHub")
            self._wait_for_routes()
        except BaseException:
            self.stop()
            raise

    def _wait_for_routes(self, timeout=60):
        """The proxy listens before the hub has added its routes (until then
        it answers 404 "Not Found"): wait until the login page is served."""
        import time
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/hub/login", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterHub served no login page within {timeout} s; see {self.log_path}")
            time.sleep(0.3)

    def home(self, user):
        return self.homes / user

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        stop_process(self.process, timeout=30)
        self._log.close()
        # Single-user servers the hub may have left behind.
        pid_file = self.workdir / "proxy.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), 15)
            except (ValueError, ProcessLookupError):
                pass
        shutil.rmtree(self.homes, ignore_errors=True)
