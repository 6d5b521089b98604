"""The `quarry` command's own failures: one line a person can act on, the
exit status 1, and no backtrace even with RUST_BACKTRACE set."""

import json
import os
import subprocess


def run_quarry(quarry_bin, *args):
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    return subprocess.run([quarry_bin, *args], capture_output=True, text=True, env=env, timeout=60)


def last_line(stderr):
    return [line for line in stderr.splitlines() if line.strip()][-1]


def test_a_missing_connection_file_is_one_sentence(quarry_bin, tmp_path):
    done = run_quarry(quarry_bin, "kernel", "-f", str(tmp_path / "missing.json"))
    assert done.returncode == 1
    assert last_line(done.stderr) == (
        f"quarry: could not read the connection file {tmp_path / 'missing.json'}: "
        "No such file or directory (os error 2)."
    ), done.stderr
    assert "backtrace" not in done.stderr.lower() and "Caused by" not in done.stderr


def test_an_unsigned_connection_file_is_refused_unless_asked(quarry_bin, tmp_path):
    connection = tmp_path / "kernel.json"
    connection.write_text(json.dumps({
        "ip": "127.0.0.1", "transport": "tcp", "shell_port": 0, "iopub_port": 0, "stdin_port": 0,
        "control_port": 0, "hb_port": 0, "key": "", "signature_scheme": "hmac-sha256", "kernel_name": "quarry",
    }))
    done = run_quarry(quarry_bin, "kernel", "-f", str(connection))
    assert done.returncode == 1
    line = last_line(done.stderr)
    assert line.startswith("quarry: ") and "empty key" in line and "--allow-unauthenticated" in line, done.stderr
