"""Delta Lake tables on S3 (SeaweedFS, the kernel on STS credentials), with
the Python `deltalake` package as the independent writer and reader.

A Delta table's folder keeps every Parquet file any version had; only its
log says which rows are live. Each test compares Quarry's answer with what
`deltalake` reads, and shows where a plain Parquet read would be wrong."""

import datetime as dt
import io
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from support.kernels import rows_of, run_cell, start_user_kernel, stop
from support.seaweed import ADMIN_KEY, ADMIN_SECRET

FOLDER = "delta/readings/"
URL = f"s3://data/{FOLDER}"


def storage(seaweed):
    """deltalake's options for SeaweedFS: path-style, plain HTTP, and
    commits put only if absent (S3 conditional writes)."""
    return {
        "AWS_ENDPOINT_URL": seaweed.endpoint,
        "AWS_ACCESS_KEY_ID": ADMIN_KEY,
        "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_CONDITIONAL_PUT": "etag",
    }


def readings(start, count):
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.table({"id": ids, "value": pc.multiply(pc.cast(ids, pa.float64()), 0.5)})


@pytest.fixture(scope="module")
def lake(seaweed):
    """A table in three commits, 2.5 s apart: 100 rows, 50 more, then
    the rows with id < 30 deleted. Returns the history deltalake reports."""
    options = storage(seaweed)
    write_deltalake(URL, readings(0, 100), storage_options=options)
    time.sleep(2.5)
    write_deltalake(URL, readings(100, 50), mode="append", storage_options=options)
    time.sleep(2.5)
    DeltaTable(URL, storage_options=options).delete("id < 30")
    return DeltaTable(URL, storage_options=options)


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    km, kc = start_user_kernel(seaweed, oidc, "alice")
    yield kc
    stop(km, kc)


def one_row(kc, sql):
    reply, outputs = run_cell(kc, sql, timeout=120)
    assert reply["status"] == "ok", reply
    rows = rows_of(outputs)
    assert len(rows) == 1, rows
    return rows[0]


def error_text(kc, sql):
    reply, _ = run_cell(kc, sql, timeout=120)
    assert reply["status"] == "error", reply
    assert "\n" not in reply["evalue"].strip(), reply["evalue"]
    return reply["evalue"]


def all_parquet_files(seaweed, prefix):
    """Every Parquet file in the folder, as a plain Parquet reader sees it."""
    admin = seaweed.admin()
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket="data", Prefix=prefix)["Contents"]]
    tables = [
        pq.read_table(io.BytesIO(admin.get_object(Bucket="data", Key=k)["Body"].read()))
        for k in keys
        if k.endswith(".parquet") and "/_delta_log/" not in k
    ]
    return pa.concat_tables(tables)


def test_only_the_rows_the_log_keeps_are_read(kernel, seaweed, lake):
    live = lake.to_pyarrow_table()
    assert live.num_rows == 120
    everything = all_parquet_files(seaweed, FOLDER)
    assert everything.num_rows > live.num_rows, "the delete left files a plain read counts"

    expected = {"rows": live.num_rows, "total": pc.sum(live["id"]).as_py()}
    by_url = one_row(kernel, f"SELECT count(*) AS rows, sum(id) AS total FROM '{URL}'")
    assert by_url == expected
    run_cell(kernel, "DROP TABLE IF EXISTS readings_delta")
    reply, _ = run_cell(
        kernel, f"CREATE EXTERNAL TABLE readings_delta STORED AS DELTATABLE LOCATION '{URL}'", timeout=120
    )
    assert reply["status"] == "ok", reply
    assert one_row(kernel, "SELECT count(*) AS rows, sum(id) AS total FROM readings_delta") == expected
    assert one_row(kernel, "SELECT min(id) AS low FROM readings_delta WHERE value > 10") == {"low": 30}

    # Defined as plain Parquet, the folder would count the deleted rows:
    # refused, in one sentence that says what to write instead.
    message = error_text(kernel, f"CREATE EXTERNAL TABLE wrong STORED AS PARQUET LOCATION '{URL}'")
    assert message.startswith(f"The folder {URL} is a Delta Lake table"), message
    assert "STORED AS DELTATABLE" in message


def test_old_versions_read_as_deltalake_reads_them(kernel, seaweed, lake):
    options = storage(seaweed)
    for version in (0, 1, 2):
        old = DeltaTable(URL, version=version, storage_options=options).to_pyarrow_table()
        expected = {"rows": old.num_rows, "total": pc.sum(old["id"]).as_py()}
        sql = f"SELECT count(*) AS rows, sum(id) AS total FROM '{URL}' VERSION AS OF {version}"
        assert one_row(kernel, sql) == expected, version
    at_one = DeltaTable(URL, version=1, storage_options=options).to_pyarrow_table()
    assert one_row(kernel, "SELECT count(*) AS rows FROM readings_delta VERSION AS OF 1") == {"rows": at_one.num_rows}
    # A join of two versions of one table: what the delete removed.
    removed = one_row(
        kernel,
        "SELECT count(*) AS removed FROM readings_delta VERSION AS OF 1 AS before "
        "LEFT JOIN readings_delta AS now ON before.id = now.id WHERE now.id IS NULL",
    )
    assert removed == {"removed": 30}

    # TIMESTAMP AS OF: the version committed at or before that moment, as
    # deltalake finds it (S3 keeps commit times to the second, so the
    # moment is midway between commits 2.5 s apart).
    history = {h["version"]: h["timestamp"] for h in lake.history()}
    between = dt.datetime.fromtimestamp((history[1] + history[2]) / 2000, dt.UTC)
    theirs = DeltaTable(URL, storage_options=options)
    theirs.load_as_version(between)
    assert theirs.version() == 1
    sql = f"SELECT count(*) AS rows FROM readings_delta TIMESTAMP AS OF '{between.isoformat()}'"
    assert one_row(kernel, sql) == {"rows": theirs.to_pyarrow_table().num_rows}

    message = error_text(kernel, "SELECT * FROM readings_delta VERSION AS OF 9")
    assert message == f"The Delta table at {URL} has no version 9: its versions run from 0 to 2.", message
    # Pinned versions last only for their statement.
    reply, outputs = run_cell(kernel, "SHOW TABLES")
    assert "quarry_delta_at" not in str(rows_of(outputs))


def test_describe_history_lists_each_commit(kernel, seaweed, lake):
    reply, outputs = run_cell(kernel, "DESCRIBE HISTORY readings_delta")
    assert reply["status"] == "ok", reply
    rows = rows_of(outputs)
    theirs = sorted(lake.history(), key=lambda h: -h["version"])
    assert [r["version"] for r in rows] == [h["version"] for h in theirs]
    assert [r["operation"] for r in rows] == [h["operation"] for h in theirs]
    assert rows[0]["operation"] == "DELETE"


def test_an_insert_is_one_commit_deltalake_reads(kernel, seaweed):
    url = "s3://data/delta/sink/"
    options = storage(seaweed)
    write_deltalake(url, readings(0, 10), storage_options=options)
    for statement in (
        f"CREATE EXTERNAL TABLE sink STORED AS DELTATABLE LOCATION '{url}'",
        "INSERT INTO sink SELECT i AS id, i * 0.5 AS value FROM generate_series(1000, 1099) AS t(i)",
    ):
        reply, _ = run_cell(kernel, statement, timeout=120)
        assert reply["status"] == "ok", (statement, reply)
    table = DeltaTable(url, storage_options=options)
    assert table.version() == 1
    data = table.to_pyarrow_table()
    assert data.num_rows == 110
    assert pc.sum(data["id"]).as_py() == sum(range(10)) + sum(range(1000, 1100))
    assert table.history(1)[0]["operation"] == "WRITE"
    # The kernel sees deltalake's next commit at its next query.
    write_deltalake(url, readings(5000, 5), mode="append", storage_options=options)
    assert one_row(kernel, "SELECT count(*) AS rows FROM sink") == {"rows": 115}


def test_a_new_table_is_created_with_its_columns(kernel, seaweed):
    url = "s3://data/delta/fresh/"
    for statement in (
        f"CREATE EXTERNAL TABLE fresh (id BIGINT, name VARCHAR) STORED AS DELTATABLE LOCATION '{url}'",
        "INSERT INTO fresh VALUES (1, 'one'), (2, 'two')",
    ):
        reply, _ = run_cell(kernel, statement, timeout=120)
        assert reply["status"] == "ok", (statement, reply)
    table = DeltaTable(url, storage_options=storage(seaweed))
    assert table.version() == 1
    assert sorted(table.to_pyarrow_table().column("name").to_pylist()) == ["one", "two"]
    # CREATE … AS SELECT: version 0 with the query's columns, version 1 its rows.
    made = "s3://data/delta/made/"
    reply, _ = run_cell(
        kernel,
        f"CREATE EXTERNAL TABLE made STORED AS DELTATABLE LOCATION '{made}' AS "
        "SELECT i AS id, concat('n', CAST(i AS VARCHAR)) AS name FROM generate_series(1, 1000) AS t(i)",
        timeout=120,
    )
    assert reply["status"] == "ok", reply
    table = DeltaTable(made, storage_options=storage(seaweed))
    assert table.version() == 1
    data = table.to_pyarrow_table()
    assert data.num_rows == 1000 and pc.sum(data["id"]).as_py() == 500500
    message = error_text(kernel, "CREATE EXTERNAL TABLE nothing STORED AS DELTATABLE LOCATION 's3://data/delta/none/'")
    assert message.startswith("There is no Delta table at s3://data/delta/none/"), message


def test_concurrent_writers_both_commit_or_one_fails_in_one_sentence(kernel, seaweed, oidc):
    """Two kernels and deltalake append to one table at the same moment.
    Each commit is put only if absent, so a writer that loses a race
    retries on the new version or fails in one sentence; the log is never
    corrupt and holds exactly the rows of the writers that succeeded."""
    url = "s3://data/delta/contended/"
    options = storage(seaweed)
    write_deltalake(url, readings(0, 1), storage_options=options)
    km2, kc2 = start_user_kernel(seaweed, oidc, "alice")
    try:
        for kc in (kernel, kc2):
            reply, _ = run_cell(
                kc, f"CREATE EXTERNAL TABLE IF NOT EXISTS contended STORED AS DELTATABLE LOCATION '{url}'"
            )
            assert reply["status"] == "ok", reply
        rounds = 4
        outcomes = []
        lock = threading.Lock()

        def kernel_writer(kc, base):
            for r in range(rounds):
                start = base + r * 100
                reply, _ = run_cell(
                    kc,
                    f"INSERT INTO contended SELECT i AS id, i * 0.5 AS value FROM generate_series({start}, {start + 9}) AS t(i)",
                    timeout=120,
                )
                with lock:
                    outcomes.append((start, reply["status"], reply.get("evalue", "")))

        def deltalake_writer(base):
            for r in range(rounds):
                start = base + r * 100
                try:
                    write_deltalake(url, readings(start, 10), mode="append", storage_options=options)
                    status = "ok"
                except Exception as e:  # noqa: BLE001 - a lost race is an outcome
                    status = f"deltalake: {e}"
                with lock:
                    outcomes.append((start, status, ""))

        threads = [
            threading.Thread(target=kernel_writer, args=(kernel, 10_000)),
            threading.Thread(target=kernel_writer, args=(kc2, 20_000)),
            threading.Thread(target=deltalake_writer, args=(30_000,)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        committed = {start for start, status, _ in outcomes if status == "ok"}
        for start, status, message in outcomes:
            if status == "error":
                assert message.startswith("Another writer committed to this Delta table"), message
        assert len(outcomes) == 3 * rounds
        table = DeltaTable(url, storage_options=options)
        data = table.to_pyarrow_table()
        expected_ids = {0} | {s + i for s in committed for i in range(10)}
        assert set(data.column("id").to_pylist()) == expected_ids
        assert data.num_rows == len(expected_ids), "no commit was applied twice"
        assert table.version() == len(committed), "one version per successful commit, none lost"
        assert one_row(kernel, "SELECT count(*) AS rows FROM contended") == {"rows": len(expected_ids)}
    finally:
        stop(km2, kc2)


def test_a_broken_log_is_one_sentence_not_a_wrong_count(kernel, seaweed):
    """A folder whose log cannot be read is never counted as plain files."""
    admin = seaweed.admin()
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2, 3]}), sink)
    for key in ("delta/broken/part-0.parquet", "delta/broken/part-1-removed.parquet", "plain/events/part-0.parquet"):
        admin.put_object(Bucket="data", Key=key, Body=sink.getvalue())
    admin.put_object(Bucket="data", Key="delta/broken/_delta_log/00000000000000000000.json", Body=b"{}\n")
    message = error_text(kernel, "SELECT count(*) FROM 's3://data/delta/broken/'")
    assert message.startswith("Could not read the Delta table at s3://data/delta/broken/"), message
    assert one_row(kernel, "SELECT count(*) AS n FROM 's3://data/plain/events/'") == {"n": 3}


def test_a_kept_delta_table_lasts_across_a_restart(seaweed, oidc, lake, tmp_path):
    """Kept in the user's catalog like any external table: a new kernel
    reads it (through its log, at its newest version) without re-creating
    it, and the table's later commits show."""
    env = {"QUARRY_CATALOG": str(tmp_path / "catalog.json")}
    km, kc = start_user_kernel(seaweed, oidc, "alice", env)
    try:
        reply, _ = run_cell(kc, f"CREATE EXTERNAL TABLE kept_lake STORED AS DELTATABLE LOCATION '{URL}'", timeout=120)
        assert reply["status"] == "ok", reply
    finally:
        stop(km, kc)
    km, kc = start_user_kernel(seaweed, oidc, "alice", env)
    try:
        live = DeltaTable(URL, storage_options=storage(seaweed)).to_pyarrow_table()
        assert one_row(kc, "SELECT count(*) AS rows FROM kept_lake") == {"rows": live.num_rows}
        reply, outputs = run_cell(kc, "DESCRIBE HISTORY kept_lake")
        assert reply["status"] == "ok", reply
        assert len(rows_of(outputs)) == len(lake.history())
    finally:
        stop(km, kc)
