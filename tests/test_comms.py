"""Comms through a real jupyter_client: open from the frontend, messages
both ways, close, comm_info, refusals, and every comm closed at shutdown."""

import uuid

import pytest

from support.kernels import run_cell, start_quarry, stop


@pytest.fixture
def kernel():
    km, kc = start_quarry()
    yield km, kc
    stop(km, kc)


def send(kc, msg_type, content):
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def comm_messages(kc, parent, kinds=("comm_msg", "comm_close"), timeout=10):
    """IOPub comm messages parented to `parent`, until it goes idle."""
    found = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != parent:
            continue
        if msg["msg_type"] in kinds:
            found.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return found


def comm_info(kc, target=None):
    msg_id = kc.comm_info(target_name=target)
    reply = kc.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply["content"]["comms"]


def test_the_tables_comm_lists_tables_and_answers_requests(kernel):
    _, kc = kernel
    assert run_cell(kc, "CREATE TABLE readings AS SELECT 1 AS id, 'north' AS site")[0]["status"] == "ok"
    assert comm_info(kc) == {}
    comm_id = uuid.uuid4().hex
    parent = send(kc, "comm_open", {"comm_id": comm_id, "target_name": "quarry.tables", "data": {}})
    (opened,) = comm_messages(kc, parent)
    assert opened["msg_type"] == "comm_msg" and opened["content"]["comm_id"] == comm_id
    tables = {t["name"]: t for t in opened["content"]["data"]["tables"]}
    assert tables["readings"]["columns"] == [["id", "Int64"], ["site", "Utf8"]]
    assert comm_info(kc, "quarry.tables") == {comm_id: {"target_name": "quarry.tables"}}
    assert comm_info(kc, "other.target") == {}
    # A table made by a later cell shows up on the next request.
    assert run_cell(kc, "CREATE VIEW hot AS SELECT * FROM readings")[0]["status"] == "ok"
    parent = send(kc, "comm_msg", {"comm_id": comm_id, "data": {"request": "tables"}})
    (answer,) = comm_messages(kc, parent)
    kinds = {t["name"]: t["kind"] for t in answer["content"]["data"]["tables"]}
    assert kinds["hot"] == "VIEW" and kinds["readings"] == "BASE TABLE"
    # A request it does not know: an error message, and everything carries on.
    parent = send(kc, "comm_msg", {"comm_id": comm_id, "data": {"request": "drop everything"}})
    (error,) = comm_messages(kc, parent)
    assert "does not know the request 'drop everything'" in error["content"]["data"]["error"]
    assert run_cell(kc, "SELECT 2 AS two")[0]["status"] == "ok"
    assert comm_info(kc) == {comm_id: {"target_name": "quarry.tables"}}
    # Closed by the frontend: gone.
    parent = send(kc, "comm_close", {"comm_id": comm_id, "data": {}})
    comm_messages(kc, parent)
    assert comm_info(kc) == {}


def test_an_unknown_target_is_closed_at_once_with_the_reason(kernel):
    _, kc = kernel
    comm_id = uuid.uuid4().hex
    parent = send(kc, "comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget", "data": {}})
    (closed,) = comm_messages(kc, parent)
    assert closed["msg_type"] == "comm_close"
    assert closed["content"]["data"]["error"] == "Quarry has no comm target 'jupyter.widget'."
    assert comm_info(kc) == {}


def test_shutdown_closes_every_open_comm(kernel):
    km, kc = kernel
    ids = [uuid.uuid4().hex for _ in range(2)]
    for comm_id in ids:
        parent = send(kc, "comm_open", {"comm_id": comm_id, "target_name": "quarry.tables", "data": {}})
        comm_messages(kc, parent)
    shutdown = kc.session.msg("shutdown_request", {"restart": False})
    kc.control_channel.send(shutdown)
    closed = set()
    while True:
        msg = kc.get_iopub_msg(timeout=10)
        if msg["msg_type"] == "comm_close":
            closed.add(msg["content"]["comm_id"])
        if msg["msg_type"] == "shutdown_reply":
            break
    assert closed == set(ids)
    km.shutdown_kernel(now=False)


def test_the_explorer_hears_of_new_tables_after_every_cell(kernel):
    _, kc = kernel
    comm_id = uuid.uuid4().hex
    parent = send(kc, "comm_open", {"comm_id": comm_id, "target_name": "quarry.tables", "data": {}})
    (first,) = comm_messages(kc, parent)
    assert first["content"]["data"]["tables"] == []
    assert first["content"]["data"]["spark_views"] is None, "no Spark session, no views"
    # The explorer asks nothing: the kernel tells it after the cell.
    msg_id = kc.execute("CREATE TABLE later AS SELECT 1 AS x, 'a' AS label")
    pushed = None
    while True:
        msg = kc.get_iopub_msg(timeout=10)
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            pushed = msg["content"]["data"]
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                and msg["content"]["execution_state"] == "idle":
            break
    assert pushed is not None, "the listing arrives before the cell's idle"
    (table,) = pushed["tables"]
    assert (table["name"], table["columns"]) == ("later", [["x", "Int64"], ["label", "Utf8"]])
    # Once closed, nothing more is sent to it.
    send(kc, "comm_close", {"comm_id": comm_id, "data": {}})
    run_cell(kc, "DROP TABLE later")
    assert comm_info(kc) == {}
