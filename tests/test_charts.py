"""`%chart`, `%profile` and `%export`: Vega-Lite charts, column profiles
and exports computed by the engine over the whole result.

Every spec is validated against the Vega-Lite schema of the version
JupyterLab 4.6 renders with (tests/vega: vega-lite 5.6.1), and the
aggregated values of a histogram, a time-unit line, a top-N bar with
"other" and a binned scatter over 5 M rows of Parquet in SeaweedFS (read
with STS credentials) are compared with an independent computation in
pyarrow/numpy; so are the profile's values, and the Parquet-footer part
is shown to read no column data (the S3 byte cache holds only footers).
"""

import html
import io
import json
import math
import os
import re
import subprocess

import requests
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from support.kernels import error_of, minimal_env, result_of, run_cell, start_quarry, stop
from support.ports import free_ports, wait_for_port
from support.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests/vega/node_modules/vega-lite/build/vega-lite-schema.json"
VEGA_LITE = "application/vnd.vegalite.v5+json"
ROWS = 5_000_000
FILES = 4


def sensor_table(start, n):
    """Rows start..start+n: one reading every 0.25 s from 2024-01-01, 8
    sites, 200 products, a skewed value and an integer."""
    i = np.arange(start, start + n, dtype=np.int64)
    rng = np.random.default_rng(start)
    ts = np.datetime64("2024-01-01T00:00:00", "ms") + (i * 250).astype("timedelta64[ms]")
    value = np.round(rng.gamma(2.0, 10.0, n), 3)
    value[i % 1001 == 0] = np.nan
    return pa.table({
        "ts": pa.array(ts, pa.timestamp("ms")),
        "site": pa.array(np.char.add("site-", (i % 8).astype(str))),
        "product": pa.array(np.char.add("p", (rng.zipf(1.3, n) % 200).astype(str))),
        "value": pa.array(value, from_pandas=True),
        "n": pa.array(i),
    })


@pytest.fixture(scope="module")
def readings(seaweed):
    admin = seaweed.admin()
    per_file = ROWS // FILES
    tables = []
    for index in range(FILES):
        table = sensor_table(index * per_file, per_file)
        tables.append(table)
        sink = io.BytesIO()
        pq.write_table(table, sink, row_group_size=256 * 1024)
        admin.put_object(Bucket="data", Key=f"charts/readings/part-{index}.parquet", Body=sink.getvalue())
    return pa.concat_tables(tables)


# The kernel's environment, for a panel backend serving its export links.
EXPORT_ENV = {}


@pytest.fixture(scope="module")
def kernel(seaweed, oidc, readings):
    credentials = seaweed.assume_role(oidc.mint("carol"), duration=3600)
    env = EXPORT_ENV
    env.clear()
    env.update({
        **seaweed.env_for(credentials),
        # Browsers reach this SeaweedFS directly: the download route redirects.
        "QUARRY_S3_PUBLIC_ENDPOINT": seaweed.endpoint,
        "JUPYTERHUB_USER": "carol",
        "QUARRY_EXPORT_PREFIX": "s3://data/{user}/exports/",
    })
    km, kc = start_quarry(env=env)
    reply, _ = run_cell(kc, "CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://data/charts/readings/'")
    assert reply["status"] == "ok", reply
    yield kc
    stop(km, kc)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def chart(kc, code, timeout=300):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["status"] == "ok", (code, reply.get("ename"), reply.get("evalue"))
    data = result_of(outputs)
    # No text/html: JupyterLab would prefer it to the chart.
    assert set(data) == {"text/plain", VEGA_LITE}, data.keys()
    return data


def values(spec):
    return spec["data"]["values"]


def close(a, b, rel=1e-9):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


SMALL = """CREATE TABLE small AS SELECT
  to_timestamp(1700000000 + value * 3600) AS at,
  CAST(to_timestamp(1700000000 + value * 86400) AS DATE) AS day,
  concat('site-', CAST(value % 5 AS VARCHAR)) AS site,
  concat('item-', CAST(value % 40 AS VARCHAR)) AS item,
  CAST(value % 97 AS DOUBLE) / 3.0 AS reading,
  value AS n,
  value % 2 = 0 AS even
FROM generate_series(1, 2000)"""

# Every kind, the automatic choices, colours and facets.
CHARTS = [
    ("", "SELECT at, reading FROM small", "line"),
    ("", "SELECT at, site, reading FROM small", "line"),
    ("", "SELECT site, reading FROM small", "bar"),
    ("", "SELECT reading, n FROM small", "point"),
    ("", "SELECT reading FROM small", "hist"),
    ("", "SELECT at FROM small", "hist"),
    ("", "SELECT site FROM small", "bar"),
    ("bar x=item y=avg(reading)", "SELECT * FROM small", "bar"),
    ("bar x=day y=count color=even", "SELECT * FROM small", "bar"),
    ("bar x=reading y=sum(n)", "SELECT * FROM small", "bar"),
    ("line x=n y=max(reading) color=site", "SELECT * FROM small", "line"),
    ("area x=at y=sum(reading) color=site", "SELECT * FROM small", "area"),
    ("area x=day y=count facet=site", "SELECT * FROM small", "area"),
    ("point x=reading y=n color=site", "SELECT * FROM small", "point"),
    ("heatmap x=site y=item", "SELECT * FROM small", "heatmap"),
    ("heatmap x=reading y=at", "SELECT * FROM small", "heatmap"),
    ("hist x=reading color=site facet=even", "SELECT * FROM small", "hist"),
    ("pie x=site y=sum(reading)", "SELECT * FROM small", "pie"),
    ("pie x=item", "SELECT * FROM small", "pie"),
    ('bar x=site title="Readings per site"', "SELECT * FROM small", "bar"),
]


@pytest.mark.parametrize("args,query,kind", CHARTS, ids=[f"{a or 'auto'}|{q[7:30]}" for a, q, _ in CHARTS])
def test_every_spec_validates_against_the_vega_lite_schema(kernel, validator, args, query, kind):
    run_cell(kernel, SMALL)
    data = chart(kernel, f"%chart {args}\n{query}")
    spec = data[VEGA_LITE]
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert spec["usermeta"]["quarry"]["kind"] == kind
    assert spec["usermeta"]["quarry"]["rows"] == 2000
    # The text stand-in says what the chart shows.
    summary = spec["title"]["subtitle"]
    assert summary.startswith("2,000 rows → ")
    assert summary in data["text/plain"]


def test_a_histogram_counts_every_value_in_its_bin(kernel, readings):
    spec = chart(kernel, "%chart hist x=value\nSELECT * FROM readings")[VEGA_LITE]
    step = spec["encoding"]["x"]["bin"]["step"]
    value = readings["value"].to_numpy(zero_copy_only=False)
    value = value[~np.isnan(value)]
    starts, counts = np.unique(np.floor(value / step) * step, return_counts=True)
    expected = {round(s, 9): int(c) for s, c in zip(starts, counts)}
    got = {round(r["x"], 9): r["value"] for r in values(spec)}
    assert got == expected
    nulls = ROWS - len(value)
    assert spec["title"]["subtitle"] == f"5.0 M rows → {len(expected)} bins · {nulls:,} rows with no value left out"


def test_a_time_line_is_the_mean_of_every_row_per_hour(kernel, readings):
    spec = chart(kernel, "%chart line x=ts y=avg(value)\nSELECT ts, value FROM readings")[VEGA_LITE]
    assert spec["title"]["text"] == "avg(value) per hour of ts"
    hours = pc.floor_temporal(readings["ts"], unit="hour")
    grouped = pa.table({"h": hours, "v": readings["value"]}).group_by("h").aggregate([("v", "mean")])
    expected = {h.strftime("%Y-%m-%dT%H:%M:%S"): v for h, v in zip(grouped["h"].to_pylist(), grouped["v_mean"].to_pylist())}
    got = {r["x"]: r["value"] for r in values(spec)}
    assert got.keys() == expected.keys()
    assert all(close(got[k], expected[k]) for k in expected)
    assert spec["title"]["subtitle"].startswith(f"5.0 M rows → {len(expected)} hours")


def test_top_bars_and_other_add_up_to_the_whole(kernel, readings):
    spec = chart(kernel, "%chart bar x=product y=sum(value)\nSELECT product, value FROM readings")[VEGA_LITE]
    grouped = readings.group_by("product").aggregate([("value", "sum")]).sort_by([("value_sum", "descending")])
    sums = grouped["value_sum"].to_pylist()
    names = grouped["product"].to_pylist()
    rows = sorted(values(spec), key=lambda r: r["rank"])
    assert len(rows) == 21
    for row, name, total in zip(rows[:20], names, sums):
        assert row["x"] == name and close(row["value"], total)
    assert rows[20]["x"] == f"other ({len(names) - 20} more)"
    assert close(rows[20]["value"], sum(sums[20:]))


def test_many_points_become_a_binned_heatmap_with_exact_counts(kernel, readings):
    spec = chart(kernel, "%chart point x=value y=n\nSELECT value, n FROM readings")[VEGA_LITE]
    assert spec["mark"]["type"] == "rect"
    assert "too many points for a scatter, so counted in bins" in spec["title"]["subtitle"]
    sx = spec["encoding"]["x"]["bin"]["step"]
    sy = spec["encoding"]["y"]["bin"]["step"]
    value = readings["value"].to_numpy(zero_copy_only=False)
    n = readings["n"].to_numpy()
    keep = ~np.isnan(value)
    cells = np.stack([np.floor(value[keep] / sx) * sx, np.floor(n[keep] / sy) * sy], axis=1)
    uniq, counts = np.unique(cells, axis=0, return_counts=True)
    expected = {(round(x, 6), round(y, 6)): int(c) for (x, y), c in zip(uniq, counts)}
    got = {(round(r["x"], 6), round(r["y"], 6)): r["value"] for r in values(spec)}
    assert got == expected


def test_chart_alone_draws_the_last_result(kernel):
    run_cell(kernel, SMALL)
    reply, _ = run_cell(kernel, "SELECT site, count(*) AS c FROM small GROUP BY site")
    assert reply["status"] == "ok"
    spec = chart(kernel, "%chart")[VEGA_LITE]
    assert spec["mark"]["type"] == "bar"
    assert sorted(r["value"] for r in values(spec)) == [400] * 5


def test_what_cannot_be_drawn_is_said_in_one_sentence(kernel):
    run_cell(kernel, SMALL)
    for code, ename, text in [
        ("%chart line x=site\nSELECT * FROM small", "ChartError",
         "site is text, so it cannot be x of a line chart; columns that can: at, day, reading, n."),
        ("%chart x=nope\nSELECT site, n FROM small", "ChartError",
         "The result has no column 'nope'; its columns are site, n."),
        ("%chart bars\nSELECT 1", "ChartError", "'bars' is neither a chart kind"),
        ("%chart\nCREATE VIEW v AS SELECT 1", "UsageError", "must be a query"),
        ("%chart hist\nSELECT nope FROM small", "SQLPlanError", "nope"),
    ]:
        reply, outputs = run_cell(kernel, code)
        assert reply["status"] == "error", code
        assert reply["ename"] == ename, (code, reply["ename"], reply["evalue"])
        assert text in reply["evalue"] and "\n" not in reply["evalue"], reply["evalue"]
    reply, _ = run_cell(kernel, "SELECT count(*) FROM small")
    assert reply["status"] == "ok"


PROFILE = "application/vnd.quarry.profile+json"


def cache_held(kc):
    """Bytes the kernel's S3 cache holds, from %config."""
    reply, outputs = run_cell(kc, "%config")
    text = next(m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "display_data")
    amount, unit = re.search(r"^s3_cache +([\d.]+) (B|KiB|MiB|GiB) of", text, re.M).groups()
    return float(amount) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def test_parquet_footers_come_first_without_reading_column_data(kernel, readings, seaweed):
    data_bytes = sum(
        o["Size"] for o in seaweed.admin().list_objects_v2(Bucket="data", Prefix="charts/readings/")["Contents"]
    )
    assert run_cell(kernel, "%config s3_cache clear")[0]["status"] == "ok"
    reply, outputs = run_cell(kernel, "%profile 's3://data/charts/readings/' --footer")
    assert reply["status"] == "ok", reply
    (shown,) = [m["content"]["data"] for m in outputs if m["msg_type"] == "display_data" and "Parquet footers of" in m["content"]["data"].get("text/plain", "")]
    # Column names and statistics are data: an HTML table of text, no Markdown.
    assert "text/markdown" not in shown and "<table>" in shown["text/html"]
    text = shown["text/plain"]
    assert f"{FILES} files" in text and "5,000,000 rows" in text
    value_row = next(line.split("  ") for line in text.splitlines() if line.startswith("  value  "))
    assert f"{readings['value'].null_count:,}" == value_row[3], value_row
    n_row = next(line.split("  ") for line in text.splitlines() if line.startswith("  n  "))
    assert n_row[4:6] == ["0", "4999999"], n_row
    # One 64 KiB suffix read per file (quarry-sql's FOOTER_HINT), nothing more.
    held = cache_held(kernel)
    assert 0 < held <= FILES * 64 * 1024, f"the footers read {held} bytes of {data_bytes}"
    # The full profile then reads the data: the cache shows it.
    reply, outputs = run_cell(kernel, "%profile 's3://data/charts/readings/'", timeout=300)
    assert reply["status"] == "ok", reply
    assert cache_held(kernel) > data_bytes / 2


def test_profile_values_equal_pyarrow(kernel, readings):
    reply, outputs = run_cell(kernel, "%profile readings", timeout=300)
    assert reply["status"] == "ok", reply
    data = result_of(outputs)
    assert "text/html" in data and ">value</td>" in data["text/html"]
    profile = data[PROFILE]
    assert profile["rows"] == ROWS
    columns = {c["name"]: c for c in profile["columns"]}
    value = readings["value"].drop_null()
    value = value.filter(pc.invert(pc.is_nan(value)))
    v = columns["value"]
    assert v["non_null"] == len(value)
    assert close(v["mean"], pc.mean(value).as_py())
    assert close(v["std"], pc.stddev(value, ddof=1).as_py(), rel=1e-6)
    assert float(v["min"]) == pc.min(value).as_py() and float(v["max"]) == pc.max(value).as_py()
    exact = pc.quantile(value, q=[0.25, 0.5, 0.75]).to_pylist()
    assert all(abs(a - b) / b < 0.02 for a, b in zip(v["quartiles"], exact)), (v["quartiles"], exact)
    assert sum(b[2] for b in v["histogram"]) == len(value)
    site = columns["site"]
    assert site["distinct"] == 8
    counts = readings.group_by("site").aggregate([("site", "count")]).sort_by([("site_count", "descending"), ("site", "ascending")])
    assert [tuple(t) for t in site["top"]] == list(zip(counts["site"].to_pylist(), counts["site_count"].to_pylist()))[:5]
    assert columns["n"]["flags"] == ["key?"]
    assert abs(columns["product"]["distinct"] - len(pc.unique(readings["product"]))) <= 3
    # Histograms: one small chart per number and time column, valid Vega-Lite.
    spec = next(m["content"]["data"][VEGA_LITE] for m in outputs if m["msg_type"] == "display_data" and VEGA_LITE in m["content"]["data"])
    assert [v["title"]["text"] for v in spec["concat"]] == ["ts", "value", "n"]


def test_profile_histograms_validate(kernel, validator):
    run_cell(kernel, SMALL)
    reply, outputs = run_cell(kernel, "%profile\nSELECT * FROM small")
    assert reply["status"] == "ok", reply
    spec = next(m["content"]["data"][VEGA_LITE] for m in outputs if m["msg_type"] == "display_data" and VEGA_LITE in m["content"]["data"])
    errors = list(validator.iter_errors(spec))
    assert not errors, [e.message for e in errors[:3]]
    assert result_of(outputs)[PROFILE]["rows"] == 2000


EXPORT = "application/vnd.quarry.export+json"


def test_export_writes_every_row_and_its_link_downloads_the_same_bytes(kernel, readings, seaweed):
    reply, outputs = run_cell(kernel, "%export parquet s3://data/exports/\nSELECT * FROM readings WHERE site = 'site-1'", timeout=300)
    assert reply["status"] == "ok", reply
    done = result_of(outputs)
    export = done[EXPORT]
    expected = pc.sum(pc.equal(readings["site"], "site-1")).as_py()
    assert export["rows"] == expected
    assert export["url"].startswith("s3://data/exports/result-") and export["url"].endswith(".parquet")
    key = export["url"].removeprefix("s3://data/")
    stored = seaweed.admin().get_object(Bucket="data", Key=key)["Body"].read()
    assert export["bytes"] == len(stored)
    assert pq.read_table(io.BytesIO(stored)).num_rows == expected
    # The link goes through the reader's own panel backend (their login and
    # credentials at click time); a saved output carries no presigned URL.
    assert export["link"] == f"/quarry/api/download?bucket=data&key={key.replace('/', '%2F')}", export["link"]
    shown = json.dumps(done)
    for signed in ("X-Amz-", "Signature", "Credential="):
        assert signed not in shown
    (port,) = free_ports(1)
    server = subprocess.Popen([os.environ["QUARRY_BIN"], "serve", "--port", str(port)], env=minimal_env(EXPORT_ENV), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, process=server, what="quarry serve")
        downloaded = requests.get(f"http://127.0.0.1:{port}" + export["link"].removeprefix("/quarry"), timeout=60)
    finally:
        stop_process(server)
    assert downloaded.status_code == 200 and downloaded.content == stored
    assert export["read_back"] in html.unescape(done["text/html"])
    reply, outputs = run_cell(kernel, export["read_back"].replace("SELECT *", "SELECT count(*) AS c"))
    assert result_of(outputs)["application/vnd.dataresource+json"]["data"] == [{"c": expected}]


def test_export_alone_writes_the_last_result_under_the_users_prefix(kernel):
    run_cell(kernel, SMALL)
    assert run_cell(kernel, "SELECT site, n FROM small WHERE n <= 1500")[0]["status"] == "ok"
    reply, outputs = run_cell(kernel, "%export csv")
    assert reply["status"] == "ok", reply
    export = result_of(outputs)[EXPORT]
    assert export["url"].startswith("s3://data/carol/exports/result-") and export["url"].endswith(".csv")
    assert export["rows"] == 1500
    reply, _ = run_cell(kernel, "%export xlsx")
    assert reply["ename"] == "UsageError" and "needs a format first" in reply["evalue"]
    reply, _ = run_cell(kernel, "%export csv s3://forbidden-bucket-xyz/out.csv\nSELECT 1 AS one")
    assert reply["status"] == "error" and reply["ename"].startswith("S3"), (reply["ename"], reply["evalue"])
    assert "forbidden-bucket-xyz" in reply["evalue"] and "\n" not in reply["evalue"], reply["evalue"]
