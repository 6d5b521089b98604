"""Packaging glue: tells jupyter-server-proxy how to start `quarry serve`.

The proxy starts the backend on first use of ``<base_url>/quarry/``, on a
Unix socket, enforces the Jupyter login, and restarts it if it dies.
"""

import os
import shutil


def _quarry_binary():
    return os.environ.get("QUARRY_BIN") or shutil.which("quarry") or "quarry"


def setup_quarry_server():
    return {
        "command": [_quarry_binary(), "serve", "--unix-socket", "{unix_socket}"],
        "unix_socket": True,
        "timeout": 30,
        "launcher_entry": {"enabled": False},
    }
