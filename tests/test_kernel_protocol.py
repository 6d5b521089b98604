"""The kernel under real jupyter_client traffic: interrupts, restarts,
forged messages, and many executions in a row."""

import time

import pytest
import zmq
from jupyter_client.session import Session

from support.kernels import result_of, rows_of, run_cell, start_quarry, stop

LONG_QUERY = (
    "SELECT count(*) FROM generate_series(1, 200000) a "
    "CROSS JOIN generate_series(1, 200000) b WHERE (a.value * b.value) % 7 = 3"
)


@pytest.fixture
def kernel():
    km, kc = start_quarry()
    yield km, kc
    stop(km, kc)


def test_interrupt_stops_a_long_query_quickly_and_keeps_tables(kernel):
    km, kc = kernel
    reply, _ = run_cell(kc, "CREATE TABLE kept AS SELECT * FROM generate_series(1, 10) AS t(v)")
    assert reply["status"] == "ok"

    msg_id = kc.execute(LONG_QUERY)
    time.sleep(1.5)  # well into the query
    started = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=10)
    while reply["parent_header"]["msg_id"] != msg_id:
        reply = kc.get_shell_msg(timeout=10)
    elapsed = time.monotonic() - started
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "QueryInterrupted"
    assert elapsed < 1.0, f"interrupt took {elapsed:.2f}s"

    reply, outputs = run_cell(kc, "SELECT sum(v) AS total FROM kept")
    assert reply["status"] == "ok"
    assert rows_of(outputs) == [{"total": 55}]


def test_long_query_shows_progress_updates(kernel):
    km, kc = kernel
    msg_id = kc.execute(LONG_QUERY)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "update_display_data" not in seen:
        msg = kc.get_iopub_msg(timeout=10)
        if msg["parent_header"].get("msg_id") == msg_id:
            seen.append(msg["msg_type"])
            if msg["msg_type"] in ("display_data", "update_display_data"):
                text = msg["content"]["data"]["text/plain"]
                assert text.startswith("Running…") and "rows so far" in text, text
                assert msg["content"]["transient"]["display_id"]
    km.interrupt_kernel()
    assert "display_data" in seen and "update_display_data" in seen, seen


def test_restart_is_fast_and_starts_a_fresh_session(kernel):
    km, kc = kernel
    run_cell(kc, "CREATE TABLE gone AS SELECT 1 AS x")
    started = time.monotonic()
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30)
    elapsed = time.monotonic() - started
    # jupyter_client escalates to SIGKILL after 5 s if shutdown hangs.
    assert elapsed < 4.0, f"restart took {elapsed:.2f}s"
    reply, outputs = run_cell(kc, "SELECT * FROM gone")
    assert reply["status"] == "error"
    assert "Table 'gone' does not exist" in reply["evalue"]


def test_badly_signed_and_malformed_messages_are_ignored(kernel):
    km, kc = kernel
    info = km.get_connection_info()
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
    try:
        forged = Session(key=b"not-the-kernel-key", username="mallory")
        forged.send(sock, "execute_request", {
            "code": "CREATE TABLE pwned AS SELECT 1 AS x", "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
        })
        unsigned = Session(key=b"", username="mallory")
        unsigned.send(sock, "execute_request", {
            "code": "CREATE TABLE pwned2 AS SELECT 1 AS x", "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
        })
        sock.send_multipart([b"<IDS|MSG>", b"deadbeef", b"{not json", b"{}", b"{}", b"{}"])
        # Nothing must come back for any of them.
        assert sock.poll(1500) == 0
    finally:
        sock.close(linger=0)

    reply, outputs = run_cell(kc, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'pwned%'")
    assert reply["status"] == "ok"
    assert rows_of(outputs) == [{"n": 0}]


def test_fifty_executions_in_a_row_do_not_leak_or_hang(kernel):
    km, kc = kernel
    pid = km.provisioner.process.pid

    def rss_kib():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    for i in range(5):
        run_cell(kc, f"SELECT {i} AS warmup, repeat('x', 1000) AS pad FROM generate_series(1, 1000)")
    before = rss_kib()
    counts = []
    for i in range(50):
        reply, outputs = run_cell(kc, f"SELECT {i} AS i, repeat('x', 1000) AS pad FROM generate_series(1, 1000)", timeout=20)
        assert reply["status"] == "ok"
        counts.append(reply["execution_count"])
        assert rows_of(outputs)[0]["i"] == i
    after = rss_kib()
    assert counts == list(range(counts[0], counts[0] + 50))
    growth_mib = (after - before) / 1024
    assert growth_mib < 64, f"RSS grew by {growth_mib:.1f} MiB over 50 executions"


def test_execution_count_follows_ipython_rules(kernel):
    km, kc = kernel
    first, _ = run_cell(kc, "SELECT 1")
    kc.execute("SELECT 2", silent=True)
    silent = kc.get_shell_msg(timeout=10)["content"]
    kc.execute("SELECT 3", store_history=False)
    unstored = kc.get_shell_msg(timeout=10)["content"]
    second, _ = run_cell(kc, "SELECT 4")
    assert second["execution_count"] == first["execution_count"] + 1
    assert silent["status"] == "ok" and unstored["status"] == "ok"


def test_results_carry_text_html_and_data_resource_with_row_cap(kernel):
    km, kc = kernel
    reply, _ = run_cell(kc, "%config max_rows 7")
    assert reply["status"] == "ok"
    reply, outputs = run_cell(kc, "SELECT value AS v FROM generate_series(1, 1000) ORDER BY v")
    data = result_of(outputs)
    assert set(data) >= {"text/plain", "text/html", "application/vnd.dataresource+json"}
    assert len(data["application/vnd.dataresource+json"]["data"]) == 7
    assert "Showing the first 7 of 1,000 rows" in data["text/plain"]
    assert data["text/html"].count("<tr>") == 1 + 7


def test_errors_are_one_clear_sentence_and_the_kernel_survives(kernel):
    km, kc = kernel
    cases = {
        "SELEC 1": ("SQLSyntaxError", "Syntax error"),
        "SELECT nope FROM (SELECT 1 AS one)": ("SQLPlanError", "nope"),
        "SELECT 1/0": ("ExecutionError", "Divide by zero"),
        "%nonsense": ("UnknownMagic", "%lsmagic"),
        "%config max_rows many": ("ConfigError", "positive whole number"),
    }
    for code, (ename, fragment) in cases.items():
        reply, outputs = run_cell(kc, code)
        assert reply["status"] == "error", code
        assert reply["ename"] == ename, (code, reply["ename"])
        assert fragment in reply["evalue"], (code, reply["evalue"])
        assert "\n" not in reply["evalue"] and "panicked" not in reply["evalue"]
    reply, outputs = run_cell(kc, "SELECT 'still alive' AS status")
    assert rows_of(outputs) == [{"status": "still alive"}]


def test_completion_and_inspection_know_session_tables(kernel):
    km, kc = kernel
    run_cell(kc, "CREATE TABLE readings AS SELECT 1 AS sensor_id, 20.5 AS temperature")
    code = "SELECT temp FROM readings"
    kc.complete(code, 11)
    reply = kc.get_shell_msg(timeout=10)["content"]
    assert reply["matches"][0] == "temperature"
    assert (reply["cursor_start"], reply["cursor_end"]) == (7, 11)
    kinds = {t["text"]: t["type"] for t in reply["metadata"]["_jupyter_types_experimental"]}
    assert kinds["temperature"] == "column"

    kc.inspect("SELECT * FROM readings", 16)
    reply = kc.get_shell_msg(timeout=10)["content"]
    assert reply["found"] is True
    assert "sensor_id" in reply["data"]["text/plain"] and "temperature" in reply["data"]["text/plain"]


def test_comms_and_unknown_requests_get_answers(kernel):
    km, kc = kernel
    kc.comm_info()
    reply = kc.get_shell_msg(timeout=10)
    assert reply["msg_type"] == "comm_info_reply" and reply["content"]["comms"] == {}

    msg = kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "jupyter.widget", "data": {}})
    kc.shell_channel.send(msg)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        iopub = kc.get_iopub_msg(timeout=10)
        if iopub["msg_type"] == "comm_close":
            assert iopub["content"]["comm_id"] == "c1"
            break
    else:
        pytest.fail("comm_open was not answered with comm_close")


def test_shutdown_replies_and_exits_promptly():
    km, kc = start_quarry()
    try:
        started = time.monotonic()
        kc.shutdown()
        reply = kc.get_control_msg(timeout=5) if hasattr(kc, "get_control_msg") else None
        km.provisioner.process.wait(timeout=3)
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, f"kernel took {elapsed:.2f}s to exit"
        if reply is not None:
            assert reply["msg_type"] == "shutdown_reply"
    finally:
        kc.stop_channels()
        km.cleanup_resources()
