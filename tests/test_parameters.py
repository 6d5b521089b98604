"""`%set` parameters through a real Jupyter client: typed, bound as values
(never spliced into the SQL), listed, completed and used by charts."""

import pytest

from support.kernels import rows_of, run_cell, start_quarry, stop, text_of


@pytest.fixture(scope="module")
def kc():
    km, kc = start_quarry()
    reply, _ = run_cell(
        kc,
        "CREATE TABLE t AS SELECT * FROM (VALUES ('Lyon', DATE '2024-05-01', 3), "
        "('x''; DROP TABLE t; --', DATE '2024-06-01', 4)) AS v(city, day, n)",
    )
    assert reply["status"] == "ok", reply
    yield kc
    stop(km, kc)


def ok(kc, code):
    reply, outputs = run_cell(kc, code)
    assert reply["status"] == "ok", (code, reply.get("evalue"))
    return outputs


def test_an_injection_string_is_only_a_string(kc):
    assert "$city = \"x'; DROP TABLE t; --\" (Utf8)" in text_of(ok(kc, '%set city = "x\'; DROP TABLE t; --"'))
    rows = rows_of(ok(kc, "SELECT n FROM t WHERE city = $city"))
    assert rows == [{"n": 4}]
    # The table is still there, with both rows.
    assert rows_of(ok(kc, "SELECT count(*) AS c FROM t")) == [{"c": 2}]


def test_types_round_trip(kc):
    ok(kc, "%set since = 2024-05-15")
    ok(kc, "%set at = 2024-05-15T08:30:00")
    ok(kc, "%set limit = 3")
    ok(kc, "%set cities = ['Lyon', 'Paris']")
    rows = rows_of(ok(kc, "SELECT arrow_typeof($since) AS d, arrow_typeof($at) AS ts, arrow_typeof($limit) AS i"))
    assert rows[0]["d"] == "Date32" and rows[0]["i"] == "Int64", rows
    assert rows[0]["ts"].startswith("Timestamp"), rows
    # A date compares as a date.
    assert rows_of(ok(kc, "SELECT city FROM t WHERE day >= $since")) == [{"city": "x'; DROP TABLE t; --"}]
    assert rows_of(ok(kc, "SELECT count(*) AS c FROM t WHERE array_has($cities, city) AND n <= $limit")) == [{"c": 1}]
    listing = text_of(ok(kc, "%set"))
    for expected in ("$since  Date32", "$limit  Int64", "$cities  List(Utf8)"):
        assert expected in listing, listing


def test_an_unknown_parameter_names_the_set_ones(kc):
    ok(kc, "%set city = 'Lyon'")
    reply, _ = run_cell(kc, "SELECT * FROM t WHERE city = $town")
    assert reply["ename"] == "ParameterError"
    assert reply["evalue"].startswith("The query uses $town, which is not set; set: ")
    assert "$city" in reply["evalue"] and "\n" not in reply["evalue"]
    reply, _ = run_cell(kc, "%set city = Lyon")
    assert reply["ename"] == "ParameterError" and 'quote text ("Lyon")' in reply["evalue"]
    ok(kc, "%unset city")
    reply, _ = run_cell(kc, "%unset city")
    assert reply["evalue"] == "$city is not set (%set lists the parameters)."


def test_dollar_completes_parameter_names(kc):
    ok(kc, "%set region = 'north'")
    code = "SELECT * FROM t WHERE city = $reg"
    kc.complete(code, len(code))
    reply = kc.get_shell_msg(timeout=10)["content"]
    assert reply["matches"] == ["$region"]
    assert reply["cursor_start"] == len(code) - 4


def test_charts_bind_parameters_too(kc):
    ok(kc, "%set minimum = 4")
    outputs = ok(kc, "%chart bar x=city y=sum(n)\nSELECT * FROM t WHERE n >= $minimum")
    spec = next(m for m in outputs if m["msg_type"] == "execute_result")["content"]["data"]["application/vnd.vegalite.v5+json"]
    assert [r["value"] for r in spec["data"]["values"]] == [4]
