"""Starting the real Quarry kernel through jupyter_client."""

import os
import subprocess
import tempfile
from pathlib import Path

from jupyter_client import KernelManager

_INSTALLED = None


def install_kernelspec(quarry):
    """Installs the kernelspec once per test run into a private prefix and
    points Jupyter at it, so the machine's own kernels are untouched."""
    global _INSTALLED
    if _INSTALLED is None:
        prefix = Path(tempfile.mkdtemp(prefix="quarry-kernelspec-"))
        subprocess.run([quarry, "install", "--prefix", str(prefix)], check=True, capture_output=True)
        data = prefix / "share" / "jupyter"
        os.environ["JUPYTER_PATH"] = str(data) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
        _INSTALLED = data
    return _INSTALLED


def minimal_env(extra=None):
    """Only what a process needs to run, plus `extra`: no AWS_* leaks in
    from the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "JUPYTER_PATH")}
    env["QUARRY_LOG"] = os.environ.get("QUARRY_LOG", "info")
    if "RUST_BACKTRACE" in os.environ:
        env["RUST_BACKTRACE"] = os.environ["RUST_BACKTRACE"]
    # Kernels of one pod share one memory budget through a registry; tests
    # start many kernels with budgets of their own, so each gets a registry
    # of its own unless a test shares one on purpose.
    env["QUARRY_POD_DIR"] = tempfile.mkdtemp(prefix="quarry-pod-")
    # Likewise a table catalog of its own: tables kept by one test's kernel
    # must not appear in another's (tests that share one say so).
    env["QUARRY_CATALOG"] = os.path.join(tempfile.mkdtemp(prefix="quarry-catalog-"), "catalog.json")
    env.update(extra or {})
    return env


def start_quarry(env=None, startup_timeout=30):
    km = KernelManager(kernel_name="quarry")
    km.start_kernel(env=minimal_env(env))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=startup_timeout)
    return km, kc


def start_user_kernel(seaweed, oidc, user, env=None):
    """A Quarry kernel on `user`'s temporary S3 credentials (their OIDC
    token exchanged at SeaweedFS's STS), as the hub's spawn hook gives them."""
    credentials = seaweed.assume_role(oidc.mint(user))
    return start_quarry(env=seaweed.env_for(credentials) | (env or {}))


def stop(km, kc):
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=False)


def run_cell(kc, code, timeout=60):
    """Executes `code` and returns (reply_content, outputs) where outputs are
    the IOPub messages for it (without status/execute_input)."""
    msg_id = kc.execute(code)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind not in ("status", "execute_input"):
            outputs.append(msg)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"], outputs


def result_of(outputs):
    for msg in outputs:
        if msg["msg_type"] == "execute_result":
            return msg["content"]["data"]
    raise AssertionError(f"no execute_result in {[m['msg_type'] for m in outputs]}")


def rows_of(outputs):
    """The result's rows as dicts, from application/vnd.dataresource+json."""
    return result_of(outputs)["application/vnd.dataresource+json"]["data"]


def error_of(outputs):
    for msg in outputs:
        if msg["msg_type"] == "error":
            return msg["content"]
    raise AssertionError(f"no error in {[m['msg_type'] for m in outputs]}")


def text_of(outputs, with_updates=False):
    """All text a cell showed: streams, displays and its result (and, with
    `with_updates`, every in-place update of a display, e.g. progress)."""
    kinds = ("display_data", "execute_result") + (("update_display_data",) if with_updates else ())
    parts = []
    for msg in outputs:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            parts.append(content["text"])
        elif msg["msg_type"] in kinds:
            parts.append(content["data"].get("text/plain", "") + ("\n" if with_updates else ""))
    return "".join(parts)
