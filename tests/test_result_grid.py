"""The result grid's kernel side through a real jupyter_client: every
table result carries application/vnd.quarry.result+json, and the
`quarry.results` comm sorts, filters and pages the whole held result —
checked against pyarrow computing the same thing — says when a result is
gone, and answers bad requests in one sentence."""

import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from support.kernels import run_cell, start_quarry, stop
from test_comms import comm_info, comm_messages, send

RESULT_MIME = "application/vnd.quarry.result+json"
ROWS = 50_000
# The same rows in SQL and in pyarrow: value i*7919 mod 100003 (a
# permutation, so the maximum is not the last row), site by i mod 7.
QUERY = (
    "SELECT i AS id, (i * 7919) % 100003 AS reading, "
    "CASE i % 7 WHEN 0 THEN 'x' WHEN 1 THEN 'north' ELSE 'south' END AS site "
    f"FROM generate_series(1, {ROWS}) AS t(i)"
)


def expected_table():
    ids = pa.array(range(1, ROWS + 1), pa.int64())
    readings = pc.remainder(pc.multiply(ids, 7919), 100003)
    sites = pa.array(["x" if i % 7 == 0 else "north" if i % 7 == 1 else "south" for i in range(1, ROWS + 1)])
    return pa.table({"id": ids, "reading": readings, "site": sites})


@pytest.fixture
def kernel():
    km, kc = start_quarry()
    yield km, kc
    stop(km, kc)


def grid_bundle(kc, code):
    reply, outputs = run_cell(kc, code)
    assert reply["status"] == "ok", reply
    results = [o for o in outputs if o["msg_type"] == "execute_result"]
    assert len(results) == 1
    data = results[0]["content"]["data"]
    assert "text/html" in data and "text/plain" in data, "other frontends keep their table"
    return data[RESULT_MIME]


class Results:
    """A frontend's `quarry.results` comm."""

    def __init__(self, kc):
        self.kc = kc
        self.id = uuid.uuid4().hex
        parent = send(kc, "comm_open", {"comm_id": self.id, "target_name": "quarry.results", "data": {}})
        assert comm_messages(kc, parent) == [], "opening sends nothing"
        self.seq = 0

    def ask(self, request="page", **fields):
        self.seq += 1
        parent = send(self.kc, "comm_msg", {"comm_id": self.id, "data": {"request": request, "seq": self.seq, **fields}})
        answers = comm_messages(self.kc, parent, timeout=60)
        assert len(answers) == 1, answers
        data = answers[0]["content"]["data"]
        assert data["seq"] == self.seq
        return data


def test_a_result_carries_its_first_page_and_an_id(kernel):
    _, kc = kernel
    bundle = grid_bundle(kc, QUERY)
    assert bundle["total_rows"] == ROWS
    assert [c["name"] for c in bundle["columns"]] == ["id", "reading", "site"]
    assert [c["kind"] for c in bundle["columns"]] == ["number", "number", "text"]
    assert bundle["columns"][0]["type"] == "Int64"
    assert len(bundle["first_page"]["rows"]) == 100, "the rows the HTML table shows"
    for id_, reading, site in bundle["first_page"]["rows"]:
        assert int(reading) == int(id_) * 7919 % 100003 and site in {"x", "north", "south"}
    assert bundle["result_id"] and bundle["note"] is None
    # A saved output decides no code: the buttons' cells come from the kernel.
    assert "actions" not in bundle
    answer = Results(kc).ask("actions", result_id=bundle["result_id"])
    # The query as the engine parsed it (sqlparser's normal form).
    chart = answer["actions"]["chart"]
    assert chart.startswith("%chart\nSELECT i AS id") and "generate_series(1, 50000)" in chart
    assert answer["actions"]["export"].startswith("%export csv\nSELECT")
    assert set(answer["actions"]) == {"chart", "profile", "export"} and answer["whole"] is True
    # A statement without rows (DDL) carries no grid.
    reply, outputs = run_cell(kc, "CREATE TABLE t AS SELECT 1 AS a")
    assert all(RESULT_MIME not in o["content"].get("data", {}) for o in outputs)


def test_sort_filter_and_page_cover_the_whole_result(kernel):
    _, kc = kernel
    bundle = grid_bundle(kc, QUERY)
    table = expected_table()
    results = Results(kc)
    rid = bundle["result_id"]

    top = results.ask(result_id=rid, sort=[{"column": "reading", "descending": True}], limit=100)["page"]
    assert int(top["rows"][0][1]) == pc.max(table["reading"]).as_py(), "the true maximum, not the first page's"
    assert top["matching_rows"] == ROWS

    only_x = results.ask(result_id=rid, filters=[{"column": "site", "op": "=", "value": "x"}], limit=10)["page"]
    assert only_x["matching_rows"] == pc.sum(pc.equal(table["site"], "x")).as_py()
    assert {row[2] for row in only_x["rows"]} == {"x"}

    order = pc.sort_indices(table, sort_keys=[("reading", "descending")])
    third = results.ask(result_id=rid, sort=[{"column": "reading", "descending": True}], offset=200, limit=100)["page"]
    expected = table.take(order).slice(200, 100)["id"].to_pylist()
    assert [int(row[0]) for row in third["rows"]] == expected, "page 3 is rows 201–300 of the sorted order"

    combined = results.ask(
        result_id=rid,
        filters=[{"column": "reading", "op": ">=", "value": "50000"}, {"column": "site", "op": "!=", "value": "x"}],
        sort=[{"column": "id"}],
        limit=5,
    )["page"]
    mask = pc.and_(pc.greater_equal(table["reading"], 50000), pc.not_equal(table["site"], "x"))
    assert combined["matching_rows"] == pc.sum(mask).as_py()
    assert [int(r[0]) for r in combined["rows"]] == table.filter(mask)["id"].to_pylist()[:5]


def test_bad_requests_get_one_sentence_and_the_kernel_carries_on(kernel):
    _, kc = kernel
    bundle = grid_bundle(kc, QUERY)
    results = Results(kc)
    rid = bundle["result_id"]
    cases = [
        ({"result_id": rid, "sort": [{"column": "nope"}]}, "The result has no column 'nope'; it has id, reading, site."),
        ({"result_id": rid, "filters": [{"column": "id", "op": ">", "value": "ten"}]}, "'ten' is not a value of 'id', whose type is Int64."),
        ({"result_id": rid, "limit": 100000}, "A page may hold at most 1000 rows; 100000 were asked for."),
        ({}, 'A page request needs the "result_id" of a result.'),
    ]
    for request, sentence in cases:
        answer = results.ask(**request)
        assert answer["error"] == sentence
        assert answer["gone"] is False
    answer = results.ask(result_id=rid, filters=[{"column": "id", "op": "between"}])
    assert answer["error"].startswith("The page request is not understood: ")
    assert answer["error"].count(".") >= 1 and "\n" not in answer["error"]
    assert run_cell(kc, "SELECT 2 AS two")[0]["status"] == "ok"
    assert "quarry.results" in {c["target_name"] for c in comm_info(kc).values()}


def test_after_a_restart_the_result_is_gone_not_stale(kernel):
    km, kc = kernel
    bundle = grid_bundle(kc, QUERY)
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30)
    answer = Results(kc).ask(result_id=bundle["result_id"])
    assert answer == {
        "seq": 1,
        "error": "This result is gone: the kernel restarted since it was computed. Run the cell again to explore it.",
        "gone": True,
    }


def test_the_buttons_act_on_what_the_grid_shows(kernel):
    _, kc = kernel
    bundle = grid_bundle(kc, QUERY)
    table = expected_table()
    results = Results(kc)
    view = {"filters": [{"column": "site", "op": "=", "value": "x"}], "sort": [{"column": "reading", "descending": True}]}
    answer = results.ask("actions", result_id=bundle["result_id"], **view)
    assert answer["whole"] is False
    profile = answer["actions"]["profile"]
    assert profile.startswith("%profile\nSELECT * FROM (\nSELECT i AS id"), profile
    assert "WHERE \"site\" = 'x'" in profile and "ORDER BY \"reading\" DESC NULLS LAST" in profile
    # The narrowed query counts what the grid's filter counts.
    counted = profile.removeprefix("%profile\n").replace("SELECT * FROM (", "SELECT count(*) AS n FROM (", 1)
    counted = counted.split("\nORDER BY")[0]
    reply, outputs = run_cell(kc, counted)
    assert reply["status"] == "ok", reply
    shown = results.ask(result_id=bundle["result_id"], filters=view["filters"], limit=1)["page"]["matching_rows"]
    assert shown == pc.sum(pc.equal(table["site"], "x")).as_py()
    assert str(shown) in outputs[-1]["content"]["data"]["text/plain"]


def test_a_forged_or_saved_result_runs_nothing(kernel):
    """A notebook saved elsewhere (or forged) names a result this kernel does
    not hold: the kernel gives no cells for it, whatever the output says."""
    _, kc = kernel
    results = Results(kc)
    for forged in ("0123456789ab-1", "", "../../etc/passwd"):
        answer = results.ask("actions", result_id=forged)
        assert answer["gone"] is True and "actions" not in answer, answer
        assert answer["error"].startswith("This result is not held by this kernel"), answer
    answer = results.ask("actions")
    assert answer == {"seq": results.seq, "error": 'An actions request needs the "result_id" of a result.', "gone": False}
