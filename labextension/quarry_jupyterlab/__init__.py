"""Packaging glue: tells jupyter-server-proxy how to start `quarry serve`.

The proxy starts the backend on first use of ``<base_url>/quarry/``, on a
Unix socket, enforces the Jupyter login, and restarts it if it dies.
"""

import logging

from .binary import quarry_binary


def setup_quarry_server():
    try:
        binary = quarry_binary()
    except FileNotFoundError as missing:
        # The server's log says why; jupyter-server-proxy reports the
        # failed start when the panel first asks.
        logging.getLogger(__name__).warning("%s", missing)
        binary = "quarry"
    return {
        "command": [binary, "serve", "--unix-socket", "{unix_socket}"],
        "unix_socket": True,
        "timeout": 30,
        "launcher_entry": {"enabled": False},
    }
