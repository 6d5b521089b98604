"""One memory budget per pod, through real kernels: kernels that share a
pod's registry (QUARRY_POD_DIR) divide the budget among those alive, a
query past a kernel's share fails in one sentence that says so, and a
kernel that ends — even killed — gives its share back."""

import os
import signal
import time

import pytest

from support.kernels import run_cell, start_quarry, stop

LIMIT = "400m"
# About 240 MB that no operator can spill: one array of 30 M integers.
HUNGRY = "SELECT cardinality(array_agg(v)) AS n FROM generate_series(1, 30000000) AS t(v)"


def memory_row(kc):
    reply, outputs = run_cell(kc, "%config")
    assert reply["status"] == "ok", reply
    markdown = outputs[0]["content"]["data"]["text/markdown"]
    (row,) = [line for line in markdown.splitlines() if line.startswith("| memory_limit |")]
    return row


def eventually(check, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def pod(tmp_path):
    env = {"QUARRY_MEMORY_LIMIT": LIMIT, "QUARRY_POD_DIR": str(tmp_path / "pod")}
    kernels = []

    def start():
        kernels.append(start_quarry(env=env))
        return kernels[-1]

    yield start
    for km, kc in kernels:
        stop(km, kc)


def test_kernels_in_one_pod_share_its_budget(pod):
    km1, kc1 = pod()
    # Alone, the kernel has the whole budget and the query fits.
    assert memory_row(kc1) == "| memory_limit | 400.0 MiB (set by QUARRY_MEMORY_LIMIT) |"
    reply, _ = run_cell(kc1, HUNGRY, timeout=120)
    assert reply["status"] == "ok", reply

    km2, kc2 = pod()
    expected = "| memory_limit | 200.0 MiB now: 400.0 MiB shared by 2 kernels in this pod |"
    eventually(lambda: assert_equal(memory_row(kc1), expected))
    assert memory_row(kc2) == expected
    # The same query no longer fits this kernel's share: one sentence.
    reply, _ = run_cell(kc1, HUNGRY, timeout=120)
    assert reply["ename"] == "MemoryLimitExceeded", reply
    assert reply["evalue"].startswith(
        "The query needed more memory than the kernel's SQL budget of 200.0 MiB now: "
        "400.0 MiB shared by 2 kernels in this pod allows"
    ), reply["evalue"]
    assert "\n" not in reply["evalue"]

    # Killed, not shut down: its lock goes with it and its share returns.
    os.kill(km2.provisioner.pid, signal.SIGKILL)
    eventually(lambda: assert_equal(memory_row(kc1), "| memory_limit | 400.0 MiB (set by QUARRY_MEMORY_LIMIT) |"))
    reply, _ = run_cell(kc1, HUNGRY, timeout=120)
    assert reply["status"] == "ok", reply


def assert_equal(actual, expected):
    assert actual == expected, actual
