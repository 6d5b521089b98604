"""A real Jupyter Server (or JupyterLab) on a free port, with a fixed token,
for tests that go through jupyter-server-proxy or drive the browser."""

import os
import subprocess
import sys

import requests

from support.kernels import minimal_env
from support.ports import free_ports, wait_for_port
from support.processes import stop_process

TOKEN = "quarry-panel-test-token"
XSRF = "panel-xsrf-value"


def server_env(extra):
    """A Jupyter server's environment: only what it needs (`minimal_env`),
    plus `extra`, with this venv's tools (jupyter, the proxy) first on PATH."""
    env = minimal_env(extra)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


class JupyterServer:
    """`jupyter server` (or `jupyter lab` with `app="lab"`) under `base_url`,
    logging to `workdir/jupyter.log`, run by `python` (this venv's unless
    told). Use as a context manager or call `stop()`."""

    def __init__(self, env, workdir, app="server", base_url="/", extra_args=(), python=sys.executable):
        (self.port,) = free_ports(1)
        self.root = workdir
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.base = f"http://127.0.0.1:{self.port}{self.base_url.rstrip('/')}"
        args = [
            str(python), "-m", "jupyter", app, "--no-browser",
            f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.base_url={self.base_url}",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={workdir}",
            *extra_args,
        ]
        if app == "lab":
            # Screenshots without the news popup or a "build recommended" nag.
            args += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.log_path = workdir / "jupyter.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout=60, process=self.process, what=f"Jupyter {app}")
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        stop_process(self.process)
        self.log.close()

    def session(self, authenticated=True, xsrf=True):
        s = requests.Session()
        if authenticated:
            s.headers["Authorization"] = f"token {TOKEN}"
        if xsrf:
            s.cookies.set("_xsrf", XSRF, domain="127.0.0.1")
            s.headers["X-XSRFToken"] = XSRF
        return s

    def url(self, path):
        """A panel backend route, through the proxy."""
        return f"{self.base}/quarry/{path}"

    def lab_url(self, path="lab"):
        """A page that logs the browser in with the token."""
        separator = "&" if "?" in path else "?"
        return f"{self.base}/{path}{separator}token={TOKEN}"


def run_in_server_kernel(base, token, kernel_id, code, timeout=120):
    """Runs `code` in a kernel a Jupyter server started (so with the
    server's environment, as a notebook's cell runs), over the server's
    kernel websocket; returns (status, text printed or shown, error)."""
    import json
    import time
    import uuid

    import websocket

    ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?token={token}"
    ws = websocket.create_connection(ws_url, timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False},
        }))
        shown, status, error, idle = [], None, None, False
        deadline = time.monotonic() + timeout
        # Outputs (iopub) and the reply (shell) travel apart: done when the
        # reply is in and the kernel said it is idle again.
        while not (status and idle) and time.monotonic() < deadline:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                shown.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                shown.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return status, "".join(shown), error
    finally:
        ws.close()
