"""`%spark` in local mode: a real Spark Connect server (pyspark 4.3's jars,
Java 17) started by the kernel, queried through Quarry's own client."""

import io
import os
import signal
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.kernels import result_of, rows_of, run_cell, start_quarry, stop
from support.kernels import text_of as support_text_of
from support.spark import spark_env, spark_home, wait_for_class_archive

ROOT = Path(__file__).resolve().parent.parent


def text_of(outputs):
    return support_text_of(outputs, with_updates=True)


def ok(kc, code, timeout=240):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["status"] == "ok", (code, reply.get("ename"), reply.get("evalue"))
    return outputs


def server_pid(kc):
    status = text_of(ok(kc, "%spark status"))
    marker = "server pid "
    assert marker in status, status
    return int(status.split(marker)[1].split(",")[0])


def gone(pid, within=20):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def readings(seaweed):
    """A small Parquet object the kernel reads and then hands to Spark."""
    table = pa.table(
        {
            "site": pa.array(["north", "south", "north", "east", "south", "north"]),
            "reading": pa.array([1.5, 2.0, 3.5, 4.0, 6.0, 1.0]),
            "at": pa.array([1_700_000_000_000_000 + i for i in range(6)], pa.timestamp("us", tz="UTC")),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    seaweed.admin().put_object(Bucket="data", Key="spark/readings.parquet", Body=sink.getvalue())
    return table


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("bob"))
    km, kc = start_quarry(env=spark_env(seaweed, credentials))
    outputs = ok(kc, "%spark start")
    yield km, kc, credentials, outputs
    stop(km, kc)


def test_start_shows_progress_and_status(kernel):
    _, kc, _, start_outputs = kernel
    text = text_of(start_outputs)
    assert "Starting the Spark server (local[*])" in text
    assert "Spark server up after" in text
    assert "session" in text and "ready" in text
    status = text_of(ok(kc, "%spark status"))
    assert "Spark 4.3.0 session" in status and "local mode" in status
    again = run_cell(kc, "%spark start")[0]
    assert again["status"] == "error" and "already running" in again["evalue"]


def test_spark_sql_returns_rows(kernel):
    _, kc, _, _ = kernel
    rows = rows_of(ok(kc, "%%spark\nSELECT id, id * id AS square FROM range(5) ORDER BY id"))
    assert [(r["id"], r["square"]) for r in rows] == [(i, i * i) for i in range(5)]


def test_output_table_is_queried_by_datafusion(kernel):
    _, kc, _, _ = kernel
    outputs = ok(kc, "%%spark -o squares\nSELECT id, id * id AS square FROM range(1000)")
    assert "Kept as kernel table squares (1,000 rows)" in text_of(outputs)
    rows = rows_of(ok(kc, "SELECT sum(square) AS total, count(*) AS n FROM squares"))
    assert rows == [{"total": sum(i * i for i in range(1000)), "n": 1000}]


def test_results_come_capped_unless_kept_whole(kernel):
    """A result is Spark's first 10,000 rows (a Limit Spark plans) unless -o
    keeps it whole; the cell and the grid say that there was more."""
    _, kc, _, _ = kernel
    outputs = ok(kc, "%%spark\nSELECT id FROM range(25000)")
    text = text_of(outputs)
    assert "Showing Spark's first 10,000 rows: the query has more" in text, text
    bundle = result_of(outputs)["application/vnd.quarry.result+json"]
    assert bundle["total_rows"] == 10_000, bundle["total_rows"]
    assert "first 10,000 rows" in bundle["note"], bundle["note"]
    # Exactly the cap: no note (Spark was asked for one row more).
    assert "the query has more" not in text_of(ok(kc, "%%spark\nSELECT id FROM range(10000)"))
    limited = ok(kc, "%%spark --limit 7 -o seven\nSELECT id FROM range(25000) ORDER BY id")
    assert "Kept as kernel table seven (7 rows)" in text_of(limited)
    assert "raise --limit" in text_of(limited)
    kept = ok(kc, "%%spark -o everything\nSELECT id FROM range(25000)")
    assert "Kept as kernel table everything (25,000 rows)" in text_of(kept)
    assert "the query has more" not in text_of(kept)
    assert rows_of(ok(kc, "SELECT count(*) AS n, max(id) AS top FROM everything")) == [{"n": 25000, "top": 24999}]


def test_input_table_from_s3_is_queried_by_spark(kernel, readings):
    _, kc, _, _ = kernel
    ok(kc, "CREATE TABLE readings AS SELECT * FROM 's3://data/spark/readings.parquet'")
    rows = rows_of(
        ok(kc, "%%spark -i readings\nSELECT site, count(*) AS n, sum(reading) AS total, max(at) AS last FROM readings GROUP BY site ORDER BY site")
    )
    expected = {}
    for site, reading in zip(readings["site"].to_pylist(), readings["reading"].to_pylist()):
        n, total = expected.get(site, (0, 0.0))
        expected[site] = (n + 1, total + reading)
    assert [(r["site"], r["n"], r["total"]) for r in rows] == [(s, *expected[s]) for s in sorted(expected)]
    assert all(r["last"].startswith("2023-11-14") for r in rows), rows


def test_kept_tables_are_queried_from_spark_by_name(kernel, readings, tmp_path):
    """A table kept in the catalog is a Spark view over its files (no -i,
    no data through the kernel), and Spark's answer equals DataFusion's.
    Local mode here has no hadoop-aws, so the files are local; the s3a
    form of the same view is unit-tested (spark_catalog.rs)."""
    _, kc, _, _ = kernel
    local = tmp_path / "readings.parquet"
    pq.write_table(readings, local)
    ok(kc, f"CREATE EXTERNAL TABLE kept_readings STORED AS PARQUET LOCATION '{local}'")
    ok(kc, "CREATE VIEW kept_north AS SELECT reading FROM kept_readings WHERE site = 'north'")
    query = "SELECT site, sum(reading) AS total, count(*) AS n FROM kept_readings GROUP BY site ORDER BY site"
    datafusion = rows_of(ok(kc, query))
    spark = rows_of(ok(kc, f"%%spark\n{query}"))
    assert spark == datafusion and len(spark) == 3, (spark, datafusion)
    assert rows_of(ok(kc, "%%spark\nSELECT count(*) AS n FROM kept_north")) == [{"n": 3}]
    # Dropped from the catalog: gone from Spark at the next cell.
    ok(kc, "DROP VIEW kept_north")
    reply, _ = run_cell(kc, "%%spark\nSELECT count(*) AS n FROM kept_north", timeout=240)
    assert reply["status"] == "error", reply


def test_a_table_spark_creates_over_files_is_kept_in_the_catalog(kernel, tmp_path):
    """`%%spark CREATE TABLE … LOCATION` keeps the table in the catalog
    too: SQL cells read the same files by name, with the same answer."""
    _, kc, _, _ = kernel
    folder = tmp_path / "spark_made"
    outputs = ok(
        kc,
        f"%%spark\nCREATE TABLE spark_made USING parquet LOCATION '{folder}' "
        "AS SELECT id, id % 3 AS bucket FROM range(1000)",
    )
    assert "Kept in your catalog as well: SQL cells and other notebooks see spark_made." in text_of(outputs)
    query = "SELECT bucket, count(*) AS n, sum(id) AS total FROM spark_made GROUP BY bucket ORDER BY bucket"
    datafusion = rows_of(ok(kc, query))
    spark = rows_of(ok(kc, f"%%spark\n{query}"))
    assert datafusion == spark and sum(r["n"] for r in datafusion) == 1000, (datafusion, spark)
    assert "spark_made" in text_of(ok(kc, "%catalog"))
    # A managed table (no LOCATION) lives in Spark's warehouse only.
    outputs = ok(kc, "%%spark\nCREATE TABLE spark_only AS SELECT 1 AS one")
    assert "catalog" not in text_of(outputs)


def test_large_input_travels_in_parts(kernel):
    _, kc, _, _ = kernel
    # ~40 MB of Arrow data: more than one 16 MiB part.
    ok(kc, "CREATE TABLE wide AS SELECT value AS id, repeat('x', 70) AS pad FROM generate_series(1, 500000)")
    rows = rows_of(ok(kc, "%%spark -i wide\nSELECT count(*) AS n, sum(id) AS s, min(length(pad)) AS l FROM wide"))
    assert rows == [{"n": 500000, "s": 500000 * 500001 // 2, "l": 70}]


def test_spark_errors_are_one_sentence_and_the_session_survives(kernel):
    _, kc, _, _ = kernel
    reply, outputs = run_cell(kc, "%%spark\nSELECT * FROM no_such_view")
    assert reply["status"] == "error"
    assert reply["ename"] == "SparkQueryError"
    assert "TABLE_OR_VIEW_NOT_FOUND" in reply["evalue"] and "\n" not in reply["evalue"]
    assert run_cell(kc, "%%spark -i missing_table\nSELECT 1")[0]["evalue"].startswith("-i missing_table: there is no kernel table")
    assert rows_of(ok(kc, "%%spark\nSELECT 1 AS one")) == [{"one": 1}]


def test_spark_results_chart_with_the_aggregation_in_spark(kernel):
    _, kc, _, _ = kernel
    vega = "application/vnd.vegalite.v5+json"
    # Above %%spark: Spark bins every row (100,000 of them) and sends only the bins.
    data = result_of_cell(kc, "%chart hist x=v\n%%spark\nSELECT id, CAST(id % 1000 AS DOUBLE) AS v FROM range(100000)")
    spec = data[vega]
    assert spec["usermeta"]["quarry"]["rows"] == 100000
    assert sum(r["value"] for r in spec["data"]["values"]) == 100000
    assert spec["encoding"]["x"]["bin"]["step"] == 50
    assert {r["value"] for r in spec["data"]["values"]} == {5000}
    # Alone after a %%spark cell: the last (Spark) result, top-N in Spark SQL.
    ok(kc, "%%spark\nSELECT CAST(id % 30 AS STRING) AS g, id FROM range(3000)")
    spec = result_of_cell(kc, "%chart bar x=g y=count")[vega]
    rows = sorted(spec["data"]["values"], key=lambda r: r["rank"])
    assert len(rows) == 21 and rows[-1]["x"] == "other (10 more)"
    assert [r["value"] for r in rows] == [100] * 20 + [1000]
    # Time units in Spark's date_trunc: 300 minutes fit in 400 points.
    spec = result_of_cell(
        kc,
        "%chart line x=t y=sum(v)\n%%spark\nSELECT timestamp_seconds(1700000000 + id * 60) AS t, 1.0 AS v FROM range(300)",
    )[vega]
    assert spec["title"]["text"] == "sum(v) per minute of t"
    assert sum(r["value"] for r in spec["data"]["values"]) == 300
    assert len(spec["data"]["values"]) == 300


def test_spark_results_profile_in_spark(kernel):
    _, kc, _, _ = kernel
    outputs = ok(kc, "%profile\n%%spark\nSELECT id, CAST(id % 4 AS STRING) AS g, CASE WHEN id % 10 = 0 THEN NULL ELSE id * 0.5 END AS half FROM range(1000)")
    from support.kernels import result_of

    profile = result_of(outputs)["application/vnd.quarry.profile+json"]
    assert profile["rows"] == 1000
    columns = {c["name"]: c for c in profile["columns"]}
    assert columns["half"]["non_null"] == 900
    assert abs(columns["half"]["mean"] - sum(i * 0.5 for i in range(1000) if i % 10) / 900) < 1e-9
    assert [tuple(t) for t in columns["g"]["top"]] == [("0", 250), ("1", 250), ("2", 250), ("3", 250)]
    assert columns["id"]["flags"] == ["key?"]


def test_spark_results_export_to_one_object(kernel, seaweed):
    _, kc, _, _ = kernel
    outputs = ok(kc, "%export parquet s3://data/spark-exports/\n%%spark\nSELECT id, id * 2 AS twice FROM range(2500)")
    from support.kernels import result_of

    export = result_of(outputs)["application/vnd.quarry.export+json"]
    assert export["rows"] == 2500
    key = export["url"].removeprefix("s3://data/")
    body = seaweed.admin().get_object(Bucket="data", Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 2500 and table.column_names == ["id", "twice"]
    # The temporary table the export went through is gone.
    assert "quarry_export_" not in text_of(ok(kc, "SHOW TABLES"))


def result_of_cell(kc, code):
    from support.kernels import result_of

    return result_of(ok(kc, code))


def test_interrupt_cancels_a_long_spark_query(kernel):
    km, kc, _, _ = kernel
    msg_id = kc.execute("%%spark\nSELECT count(*) AS n FROM range(100000000) a CROSS JOIN range(100000) b WHERE (a.id + b.id) % 1000 = 7")
    progress = []
    deadline = time.time() + 60
    while time.time() < deadline and not any("stages" in p for p in progress):
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in ("display_data", "update_display_data"):
            progress.append(msg["content"]["data"]["text/plain"])
    assert any("Spark: running" in p and "stages" in p for p in progress), progress
    asked = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    took = time.time() - asked
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "QueryInterrupted", reply["content"]
    assert took < 30, took
    assert rows_of(ok(kc, "%%spark\nSELECT 2 AS two")) == [{"two": 2}]


def test_s3a_is_configured_from_the_kernels_credentials(kernel, seaweed):
    _, kc, credentials, _ = kernel
    for key, expected in [
        ("spark.hadoop.fs.s3a.endpoint", seaweed.endpoint),
        ("spark.hadoop.fs.s3a.path.style.access", "true"),
        ("spark.hadoop.fs.s3.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem"),
        ("spark.hadoop.fs.s3a.impl.disable.cache", "true"),
    ]:
        rows = rows_of(ok(kc, f"%%spark\nSET {key}"))
        assert rows[0]["value"] == expected, (key, rows)
    # The keys reach Spark (set, not "<undefined>") but never the notebook:
    # Spark redacts them (the values themselves are unit-tested in conf.rs).
    for key in (
        "spark.hadoop.fs.s3a.aws.credentials.provider",
        "spark.hadoop.fs.s3a.access.key",
        "spark.hadoop.fs.s3a.secret.key",
        "spark.hadoop.fs.s3a.session.token",
    ):
        value = rows_of(ok(kc, f"%%spark\nSET {key}"))[0]["value"]
        assert value not in (credentials["SecretAccessKey"], credentials["SessionToken"], credentials["AccessKeyId"])
        assert "redacted" in value, (key, value)
    shown = text_of(ok(kc, "%spark status")) + text_of(ok(kc, "%spark logs"))
    assert credentials["SecretAccessKey"] not in shown and credentials["SessionToken"] not in shown


def test_a_crashed_server_is_reported_with_its_log_then_stop_cleans_up(kernel):
    _, kc, _, _ = kernel
    pid = server_pid(kc)
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    reply, _ = run_cell(kc, "%%spark\nSELECT 1")
    assert reply["status"] == "error"
    assert "The Spark server exited" in reply["evalue"] and "Last lines of its log" in reply["evalue"], reply["evalue"]
    assert "has stopped" in text_of(ok(kc, "%spark status"))
    assert "Spark session stopped" in text_of(ok(kc, "%spark stop"))
    assert "No Spark session" in text_of(ok(kc, "%spark status"))


def test_a_driver_out_of_memory_ends_the_jvm_and_the_kernel_says_so(seaweed, oidc, tmp_path):
    """The driver runs with -XX:+ExitOnOutOfMemoryError: a query that fills
    its heap ends the JVM at once (instead of leaving it thrashing in the
    pod), the cell says why in one error, the memory the kernel set aside
    for the driver is given back, and the kernel carries on."""
    credentials = seaweed.assume_role(oidc.mint("bob"))
    pod = tmp_path / "pod"
    km, kc = start_quarry(env={**spark_env(seaweed, credentials), "QUARRY_POD_DIR": str(pod), "QUARRY_MEMORY_LIMIT": "2g"})
    try:
        ok(kc, "%spark start --conf spark.driver.memory=512m")
        pid = server_pid(kc)
        memory = lambda: [l for l in text_of(ok(kc, "%config")).splitlines() if "memory_limit" in l][0]  # noqa: E731
        assert "less 896.0 MiB for this kernel's Spark driver" in memory(), memory()
        reply, _ = run_cell(
            kc,
            "%%spark\nSELECT size(collect_list(repeat('x', 100000))) AS n FROM range(100000)",
            timeout=300,
        )
        assert reply["status"] == "error", reply
        assert "The Spark server exited" in reply["evalue"], reply["evalue"]
        assert "OutOfMemoryError" in reply["evalue"], reply["evalue"]
        assert gone(pid)
        assert "Spark session stopped" in text_of(ok(kc, "%spark stop"))
        assert memory() == "memory_limit  2.0 GiB (set by QUARRY_MEMORY_LIMIT)", memory()
        ok(kc, "SELECT 1")
    finally:
        stop(km, kc)


def test_stop_and_kernel_shutdown_leave_no_jvm(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("bob"))
    km, kc = start_quarry(env=spark_env(seaweed, credentials))
    try:
        ok(kc, "%spark start")
        first = server_pid(kc)
        assert "Spark session stopped" in text_of(ok(kc, "%spark stop"))
        assert gone(first, within=5), "the JVM outlived %spark stop"
        ok(kc, "%spark start")
        second = server_pid(kc)
        assert second != first
    finally:
        stop(km, kc)
    assert gone(second), "the JVM outlived the kernel's shutdown"


def test_later_starts_map_a_class_archive_built_after_the_first(seaweed, oidc, tmp_path):
    """The first session records the classes it loads; once it stops, a
    background dump turns them into a CDS archive that the next JVM maps."""
    env = spark_env(seaweed, seaweed.assume_role(oidc.mint("bob")))
    env["XDG_CACHE_HOME"] = str(tmp_path)
    slots = tmp_path / "quarry" / "spark-cds"
    km, kc = start_quarry(env=env)
    try:
        ok(kc, "%spark start")
        assert rows_of(ok(kc, "%%spark\nSELECT count(*) AS n FROM range(1000)"))[0]["n"] == 1000
        ok(kc, "%spark stop")
        archive = wait_for_class_archive(tmp_path)
        assert not list(slots.glob("*.classes")), "the class list is removed once used"
        ok(kc, "%spark start")
        pid = server_pid(kc)
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert str(archive) in maps, "the JVM did not map the class archive"
        assert rows_of(ok(kc, "%%spark\nSELECT count(*) AS n FROM range(10)"))[0]["n"] == 10
    finally:
        stop(km, kc)


def test_without_spark_the_error_says_how_to_get_it(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("bob"))
    env = seaweed.env_for(credentials)
    env["SPARK_HOME"] = str(ROOT / "no-such-spark")
    km, kc = start_quarry(env=env)
    try:
        reply, _ = run_cell(kc, "%spark start")
        assert reply["ename"] == "SparkNotInstalled"
        assert "no bin/spark-submit" in reply["evalue"]
        assert run_cell(kc, "%spark start --executors zero")[0]["evalue"] == (
            "--executors takes a positive whole number, not 'zero'."
        )
        assert run_cell(kc, "%%spark\nSELECT 1")[0]["ename"] == "NoSparkSession"
    finally:
        stop(km, kc)


def test_protos_match_installed_spark():
    jar = next(Path(spark_home(), "jars").glob("spark-connect_2.13-*.jar"))
    ours = ROOT / "crates" / "quarry-spark" / "proto"
    with zipfile.ZipFile(jar) as archive:
        names = [n for n in archive.namelist() if n.startswith("spark/connect/") and n.endswith(".proto")]
        assert names
        for name in names:
            if name.endswith("example_plugins.proto"):
                continue
            assert (ours / name).read_bytes() == archive.read(name), name
