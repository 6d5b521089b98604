"""`quarry lab`, the main job: S3 with demo data plus JupyterLab with the
kernel, and everything stopped again on Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from support.ports import free_ports


def test_lab_starts_the_platform_and_ctrl_c_stops_it(quarry_bin, tmp_path):
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["RUST_BACKTRACE"] = "0"
    lab = subprocess.Popen(
        [quarry_bin, "lab", "--data-dir", str(tmp_path / "lab"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines = []
    try:
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

        lab.send_signal(signal.SIGINT)
        rest, _ = lab.communicate(timeout=30)
        assert lab.returncode == 0, rest
        assert "Stopped JupyterLab and SeaweedFS." in rest
        for p in (port, s3_port):
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{p}/", timeout=2)
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
