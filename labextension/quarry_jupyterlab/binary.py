"""Where the `quarry` binary is.

The `quarry-jupyter` wheel installs it into the environment's scripts
directory, which is not on PATH when Jupyter is started as
`venv/bin/jupyter lab` without activating the venv; the kernelspec and
the proxy entry point therefore look there first.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path


def quarry_binary() -> str:
    """`QUARRY_BIN` if set, else the binary beside this Python (the wheel's
    install, also with `pip install --user`), else the one on PATH."""
    if os.environ.get("QUARRY_BIN"):
        return os.environ["QUARRY_BIN"]
    schemes = [sysconfig.get_default_scheme(), f"{os.name}_user"]
    for scheme in schemes:
        try:
            scripts = sysconfig.get_path("scripts", scheme)
        except KeyError:
            continue
        candidate = Path(scripts) / "quarry"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    beside = Path(sys.executable).parent / "quarry"
    if beside.is_file():
        return str(beside)
    found = shutil.which("quarry")
    if found:
        return found
    raise FileNotFoundError(
        "The quarry binary is not installed: `pip install quarry-jupyter` puts it beside this Python, "
        "or set QUARRY_BIN to its path."
    )
