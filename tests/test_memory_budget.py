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
    text = outputs[0]["content"]["data"]["text/plain"]
    (row,) = [line for line in text.splitlines() if line.startswith("memory_limit ")]
    return row.removeprefix("memory_limit").strip()


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
    assert memory_row(kc1) == "400.0 MiB (set by QUARRY_MEMORY_LIMIT)"
    reply, _ = run_cell(kc1, HUNGRY, timeout=120)
    assert reply["status"] == "ok", reply

    km2, kc2 = pod()
    expected = "200.0 MiB now: 400.0 MiB shared by 2 kernels in this pod"
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
    eventually(lambda: assert_equal(memory_row(kc1), "400.0 MiB (set by QUARRY_MEMORY_LIMIT)"))
    reply, _ = run_cell(kc1, HUNGRY, timeout=120)
    assert reply["status"] == "ok", reply


def assert_equal(actual, expected):
    assert actual == expected, actual


def test_spill_goes_to_its_own_directory_within_its_limit(tmp_path):
    """A sort bigger than memory spills into QUARRY_SPILL_DIR; past
    QUARRY_SPILL_LIMIT it fails in a sentence that says how to allow more,
    and the kernel carries on."""
    spill = tmp_path / "spill"
    base = {"QUARRY_MEMORY_LIMIT": "64m", "QUARRY_SPILL_DIR": str(spill)}
    sort = "SELECT v FROM generate_series(1, 20000000) AS t(v) ORDER BY v DESC"
    km, kc = start_quarry(env={**base, "QUARRY_SPILL_LIMIT": "1m"})
    try:
        reply, _ = run_cell(kc, sort, timeout=300)
        assert reply["status"] == "error", reply
        # DataFusion's own sentence, which names the setting that allows more.
        assert reply["evalue"] == (
            "The used disk space during the spilling process has exceeded the allowable limit of 1024.0 KB. "
            "Please try increasing the config: `datafusion.runtime.max_temp_directory_size`."
        )
        assert spill.is_dir(), "the spill directory is the one configured"
        assert run_cell(kc, "SELECT 1 AS still_here")[0]["status"] == "ok"
    finally:
        stop(km, kc)
    km, kc = start_quarry(env={**base, "QUARRY_SPILL_LIMIT": "4g"})
    try:
        reply, outputs = run_cell(kc, sort, timeout=600)
        assert reply["status"] == "ok", reply
        (result,) = [o for o in outputs if o["msg_type"] == "execute_result"]
        assert "20,000,000 rows" in result["content"]["data"]["text/plain"]
    finally:
        stop(km, kc)
    assert list(spill.rglob("*.arrow")) == [], "spill files are removed after the query"
