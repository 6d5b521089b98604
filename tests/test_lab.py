"""`quarry lab`, the main job: S3 with demo data plus JupyterLab with the
kernel, and everything stopped again on Ctrl-C or when its terminal closes;
one lab per data folder, and a second one told who holds it."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from support.docs import documentation_text
from support.jupyter import run_in_server_kernel
from support.ports import free_ports


def lab_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # A backtrace would show only if a user-facing error leaked one.
    env["RUST_BACKTRACE"] = "1"
    return env


def start_lab(quarry_bin, data_dir, port):
    """Starts `quarry lab` and reads its output up to the login URL;
    returns (process, lines so far, token)."""
    lab = subprocess.Popen(
        [quarry_bin, "lab", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lab_env(),
    )
    lines = []
    deadline = time.monotonic() + 180
    token = None
    while time.monotonic() < deadline and token is None:
        line = lab.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]{{16,}})", line)
        if match:
            token = match.group(1)
    assert token, "no JupyterLab URL printed:\n" + "".join(lines)
    return lab, lines, token


def s3_port_of(lines):
    return int(next(l for l in lines if l.startswith("S3 is up at ")).rsplit(":", 1)[1])


def assert_closed(*ports):
    for p in ports:
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{p}/", timeout=2)


def test_lab_starts_the_platform_and_ctrl_c_stops_it(quarry_bin, tmp_path):
    (port,) = free_ports(1)
    lab, lines, token = start_lab(quarry_bin, tmp_path / "lab", port)
    try:
        s3_line = next(l for l in lines if l.startswith("S3 is up at "))
        # Spark's local mode is found through the Python that runs JupyterLab.
        assert any(l.startswith("Spark (local mode, %spark start) from ") and "pyspark" in l for l in lines), lines
        s3_port = int(s3_line.rsplit(":", 1)[1])

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/kernelspecs", headers={"Authorization": f"token {token}"}
        )
        specs = json.load(urllib.request.urlopen(request, timeout=10))["kernelspecs"]
        assert specs["quarry"]["spec"]["display_name"] == "Quarry (SQL · Spark)"
        assert specs["quarry"]["spec"]["interrupt_mode"] == "message"
        contents = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/quarry-demo.ipynb?content=0",
            headers={"Authorization": f"token {token}"},
        )
        assert json.load(urllib.request.urlopen(contents, timeout=10))["type"] == "notebook"
        walkthrough = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/gas-sensor-walkthrough.ipynb?content=0",
            headers={"Authorization": f"token {token}"},
        )
        assert json.load(urllib.request.urlopen(walkthrough, timeout=10))["type"] == "notebook"
        # The S3 panel's backend answers through the proxy, with the lab's
        # credentials, and sees the demo bucket.
        buckets = urllib.request.Request(
            f"http://127.0.0.1:{port}/quarry/api/buckets", headers={"Authorization": f"token {token}"}
        )
        names = [b["name"] for b in json.load(urllib.request.urlopen(buckets, timeout=30))["buckets"]]
        assert "demo" in names
        assert any("Generating demo data" in l for l in lines)
        # No news prompt on a first visit.
        notification = urllib.request.Request(
            f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification",
            headers={"Authorization": f"token {token}"},
        )
        settings = json.load(urllib.request.urlopen(notification, timeout=10))["settings"]
        assert settings["fetchNews"] == "false", settings

        lab.send_signal(signal.SIGINT)
        rest, _ = lab.communicate(timeout=30)
        assert lab.returncode == 0, rest
        assert "Stopped JupyterLab (and its kernels) and SeaweedFS." in rest
        for p in (port, s3_port):
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{p}/", timeout=2)
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()


def test_closing_the_terminal_stops_everything(quarry_bin, tmp_path):
    (port,) = free_ports(1)
    lab, lines, _ = start_lab(quarry_bin, tmp_path / "lab", port)
    try:
        lab.send_signal(signal.SIGHUP)
        rest, _ = lab.communicate(timeout=30)
        assert lab.returncode == 0, rest
        assert "SIGHUP (the terminal closed): stopping" in rest
        assert "Stopped JupyterLab (and its kernels) and SeaweedFS." in rest
        assert_closed(port, s3_port_of(lines))
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()


def descendants(pid):
    """Every process below `pid` (kernels start their own sessions but are
    still JupyterLab's children)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def leftovers(directory):
    """Entries JupyterLab, jupyter-server-proxy or a kernel would leave."""
    if not directory.is_dir():
        return set()
    marks = ("jupyter", "jpserver", "kernel-", "quarry")
    return {p.name for p in directory.iterdir() if any(m in p.name for m in marks)}


def xtask_env():
    """The test runs under `cargo xtask test`: drop what cargo gave xtask,
    so the nested cargo reuses the build instead of redoing build scripts."""
    injected = ("CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_")
    return {k: v for k, v in lab_env().items() if not k.startswith(injected) and k != "OUT_DIR"}


def assert_readme_python_runs(port, token):
    (code,) = re.findall(r"^```python\n(.*?)^```", documentation_text(), re.S | re.M)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/kernels", data=json.dumps({"name": "python3"}).encode(), method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    kernel = json.load(urllib.request.urlopen(request, timeout=30))
    status, shown, error = run_in_server_kernel(f"http://127.0.0.1:{port}", token, kernel["id"], code, timeout=180)
    assert (status, error) == ("ok", None), (shown, error)
    # demo-data.sql: a day of minutes for six sensors as CSV; the week as
    # Parquet, two sensors per site.
    assert shown.strip() == "8640 CSV rows; [('campus', 20160), ('harbour', 20160), ('tunnel', 20160)]", shown


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM via cargo xtask lab", "SIGHUP"])
def test_one_signal_to_the_lab_stops_everything_it_started(quarry_bin, tmp_path, how):
    """A signal to the one PID the user started (a process manager, `kill`,
    a closed SSH session) stops JupyterLab — which shuts its kernels down —,
    the panel backend and SeaweedFS, and leaves no runtime file behind."""
    sig = getattr(signal, how.split()[0])
    data = tmp_path / "lab"
    (port,) = free_ports(1)
    runtime = Path.home() / ".local/share/jupyter/runtime"
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    before = (leftovers(runtime), leftovers(tmp))
    if "xtask" in how:
        root = Path(__file__).resolve().parent.parent
        command = ["cargo", "xtask", "lab", "--port", str(port), "--data-dir", str(data)]
        # The binary this run tests (QUARRY_BIN), not a second build of it.
        lab = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**xtask_env(), "QUARRY_BIN": quarry_bin})
        lines = []
        while True:
            line = lab.stdout.readline()
            assert line, "cargo xtask lab ended early:\n" + "".join(lines)
            lines.append(line)
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]{{16,}})", line)
            if match:
                token = match.group(1)
                break
        assert any(l.startswith("xtask: [1/3]") for l in lines), lines
    else:
        lab, lines, token = start_lab(quarry_bin, data, port)
    try:
        # A kernel, as a notebook would start one.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/kernels", data=json.dumps({"name": "quarry"}).encode(), method="POST",
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        kernel = json.load(urllib.request.urlopen(request, timeout=30))
        assert kernel["name"] == "quarry"
        # The panel backend, started on first use through the proxy.
        buckets = urllib.request.Request(f"http://127.0.0.1:{port}/quarry/api/buckets", headers={"Authorization": f"token {token}"})
        assert urllib.request.urlopen(buckets, timeout=30).status == 200
        if "xtask" in how:
            # Saving a notebook in the lab writes the lab's copy, never the clone.
            before_git = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
            get = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/quarry-demo.ipynb", headers={"Authorization": f"token {token}"})
            model = json.load(urllib.request.urlopen(get, timeout=30))
            model["content"]["cells"].append({"cell_type": "code", "metadata": {}, "source": "SELECT 42", "outputs": [], "execution_count": None})
            put = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/contents/quarry-demo.ipynb", method="PUT",
                data=json.dumps({"type": "notebook", "format": "json", "content": model["content"]}).encode(),
                headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
            )
            assert urllib.request.urlopen(put, timeout=30).status == 200
            assert "SELECT 42" in (data / "notebooks" / "quarry-demo.ipynb").read_text()
            after_git = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
            assert after_git == before_git
            # A Python 3 notebook reads the demo bucket with pandas and
            # polars, as the README writes it.
            assert_readme_python_runs(port, token)
        started = descendants(lab.pid)
        assert len(started) >= 3, started
        lab.send_signal(sig)
        rest, _ = lab.communicate(timeout=60)
        assert lab.returncode == 0, rest
        assert "Stopped JupyterLab (and its kernels) and SeaweedFS." in rest
        deadline = time.monotonic() + 15
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        remaining = [p for p in started if alive(p)]
        assert remaining == [], [Path(f"/proc/{p}/cmdline").read_bytes() for p in remaining if alive(p)]
        assert_closed(port, s3_port_of(lines))
        # The lab's private runtime folder (JupyterLab's runtime dir and
        # TMPDIR) is gone, and so is the note pointing at it.
        assert not (data / "run-dir").exists()
        assert not list(tmp.glob(f"quarry-lab-{lab.pid}")), list(tmp.glob("quarry-lab-*"))
        assert (leftovers(runtime), leftovers(tmp)) == before
        assert "Traceback" not in rest and "Backtrace" not in rest
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()


def second_lab(quarry_bin, data_dir):
    (port,) = free_ports(1)
    second = subprocess.run(
        [quarry_bin, "lab", "--data-dir", str(data_dir), "--port", str(port)],
        capture_output=True, text=True, env=lab_env(), timeout=60,
    )
    assert second.returncode == 1, second
    assert second.stdout == ""
    (line,) = second.stderr.splitlines()
    assert "Backtrace" not in second.stderr and "panicked" not in second.stderr
    return line


def release(lock, pids):
    """Kills `pids` and anything else still holding `lock` (a grandchild
    inherits the descriptor too), until the lock can be taken."""
    import fcntl

    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while True:
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                assert time.monotonic() < deadline, "the lab's folder stayed locked"
        for fd_dir in Path("/proc").glob("[0-9]*/fd"):
            try:
                if any(os.readlink(fd) == str(lock) for fd in fd_dir.iterdir()):
                    os.kill(int(fd_dir.parent.name), signal.SIGKILL)
            except OSError:
                continue
        time.sleep(0.2)


def test_a_second_lab_on_the_same_folder_says_who_holds_it(quarry_bin, tmp_path):
    data = tmp_path / "lab"
    (port,) = free_ports(1)
    lab, lines, _ = start_lab(quarry_bin, data, port)
    left_behind = []
    try:
        line = second_lab(quarry_bin, data)
        assert line.startswith(f"quarry: an earlier `quarry lab` still holds {data} (quarry lab, pid {lab.pid}; SeaweedFS, pid ")
        assert f"JupyterLab on port {port}, pid " in line
        assert line.endswith(f"stop it with Ctrl-C in its terminal or `kill {lab.pid}`, or pass --data-dir DIR to run another lab beside it.")
        # Killed without a chance to stop its children: they still hold the
        # folder, and the next lab names them.
        lab.kill()
        lab.wait()
        line = second_lab(quarry_bin, data)
        left_behind = [int(pid) for pid in re.findall(r"pid (\d+)", line)]
        assert len(left_behind) == 2 and lab.pid not in left_behind, line
        assert f"the lab itself is gone, so stop what it left with `kill {left_behind[0]} {left_behind[1]}`" in line
        # A port someone else holds is one sentence too, before anything starts.
        release(data / "lab.lock", left_behind)
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            result = subprocess.run(
                [quarry_bin, "lab", "--data-dir", str(data), "--port", str(busy)],
                capture_output=True, text=True, env=lab_env(), timeout=60,
            )
        assert result.returncode == 1
        assert result.stderr.strip() == f"quarry: port {busy} is already in use (another JupyterLab?): pass --port N."
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
        for pid in left_behind:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
