"""SQL over a real S3 server with real STS credentials.

A token from the test OIDC issuer is exchanged at SeaweedFS's STS for
temporary credentials, and the kernel is started with only those (plus the
endpoint) in its environment, as the hub's pre-spawn hook does.
"""

import io
import json
import re
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from support.kernels import error_of, rows_of, run_cell, start_quarry, stop
from support.outage import Outage


def readings_table():
    n = 5000
    return pa.table({
        "sensor": [f"s{i % 7}" for i in range(n)],
        "value": [((i * 37) % 1000) / 10.0 for i in range(n)],
        "ok": [i % 13 != 0 for i in range(n)],
    })


@pytest.fixture(scope="module")
def uploaded(seaweed):
    """Parquet and CSV objects written with the admin client (pyarrow)."""
    table = readings_table()
    admin = seaweed.admin()
    buf = io.BytesIO()
    pq.write_table(table, buf)
    admin.put_object(Bucket="data", Key="readings/readings.parquet", Body=buf.getvalue())
    csv_buf = io.BytesIO()
    pacsv.write_csv(table, csv_buf)
    admin.put_object(Bucket="data", Key="readings/readings.csv", Body=csv_buf.getvalue())
    admin.put_object(Bucket="forbidden", Key="secret.csv", Body=b"a,b\n1,2\n")
    return table


@pytest.fixture(scope="module")
def credentials(seaweed, oidc):
    token = oidc.mint("alice")
    return seaweed.assume_role(token, duration=3600)


@pytest.fixture(scope="module")
def sts_kernel(seaweed, credentials, uploaded):
    km, kc = start_quarry(env=seaweed.env_for(credentials))
    yield km, kc
    stop(km, kc)


def expected_by_sensor(table):
    grouped = table.group_by("sensor").aggregate([("value", "sum"), ("value", "count")])
    return {
        row["sensor"]: (round(row["value_sum"], 6), row["value_count"])
        for row in grouped.to_pylist()
    }


def test_sts_credentials_are_temporary(credentials):
    assert credentials["SessionToken"]
    assert credentials["AccessKeyId"] != "quarrytestadmin"


def test_reads_parquet_and_csv_with_answers_matching_pyarrow(sts_kernel, uploaded):
    km, kc = sts_kernel
    expected = expected_by_sensor(uploaded)
    for path in ("s3://data/readings/readings.parquet", "s3://data/readings/readings.csv"):
        reply, outputs = run_cell(
            kc,
            f"SELECT sensor, sum(value) AS total, count(*) AS n FROM '{path}' GROUP BY sensor ORDER BY sensor",
        )
        assert reply["status"] == "ok", reply
        got = {r["sensor"]: (round(r["total"], 6), r["n"]) for r in rows_of(outputs)}
        assert got == expected, path


def test_external_table_and_copy_back_to_s3(sts_kernel, seaweed, uploaded):
    km, kc = sts_kernel
    reply, outputs = run_cell(kc, """
        CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://data/readings/readings.parquet';
        COPY (SELECT sensor, avg(value) AS mean FROM readings WHERE ok GROUP BY sensor)
          TO 's3://data/out/means.parquet' STORED AS PARQUET;
    """)
    assert reply["status"] == "ok", reply
    assert rows_of(outputs) == [{"count": 7}]

    body = seaweed.admin().get_object(Bucket="data", Key="out/means.parquet")["Body"].read()
    written = pq.read_table(io.BytesIO(body))
    filtered = uploaded.filter(pc.field("ok"))
    expected = {
        r["sensor"]: r["value_mean"]
        for r in filtered.group_by("sensor").aggregate([("value", "mean")]).to_pylist()
    }
    got = dict(zip(written["sensor"].to_pylist(), written["mean"].to_pylist()))
    assert got.keys() == expected.keys()
    for sensor, mean in expected.items():
        assert got[sensor] == pytest.approx(mean)

    reply, outputs = run_cell(kc, "COPY (SELECT 1 AS one) TO 's3://data/out/one.json' STORED AS JSON")
    assert reply["status"] == "ok"
    body = seaweed.admin().get_object(Bucket="data", Key="out/one.json")["Body"].read()
    assert json.loads(body.decode().strip()) == {"one": 1}


def test_denied_bucket_missing_key_and_missing_bucket_are_explained(sts_kernel):
    km, kc = sts_kernel
    reply, outputs = run_cell(kc, "SELECT * FROM 's3://forbidden/secret.csv'")
    assert reply["status"] == "error"
    assert reply["ename"] == "S3AccessDenied", reply
    assert "s3://forbidden" in reply["evalue"]

    reply, _ = run_cell(kc, "SELECT * FROM 's3://data/readings/nope.parquet'")
    assert reply["status"] == "error"
    assert reply["ename"] == "S3NotFound", reply
    assert "s3://data/readings/nope.parquet does not exist" in reply["evalue"]

    reply, _ = run_cell(kc, "SELECT * FROM 's3://no-such-bucket-here/x.parquet'")
    assert reply["status"] == "error"
    assert reply["ename"] in ("S3NotFound", "S3AccessDenied"), reply
    assert "no-such-bucket-here" in reply["evalue"]

    reply, outputs = run_cell(kc, "SELECT count(*) AS n FROM 's3://data/readings/readings.parquet'")
    assert rows_of(outputs) == [{"n": 5000}]


def test_s3_path_completion_lists_the_bucket(sts_kernel):
    km, kc = sts_kernel
    code = "SELECT * FROM 's3://data/readings/rea"
    kc.complete(code, len(code))
    reply = kc.get_shell_msg(timeout=10)["content"]
    assert set(reply["matches"]) == {
        "s3://data/readings/readings.csv",
        "s3://data/readings/readings.parquet",
    }
    assert reply["cursor_start"] == code.index("s3://")


def test_inspect_shows_a_files_schema(sts_kernel):
    km, kc = sts_kernel
    code = "SELECT * FROM 's3://data/readings/readings.parquet'"
    kc.inspect(code, code.index("readings.parquet"))
    reply = kc.get_shell_msg(timeout=20)["content"]
    assert reply["found"], reply
    text = reply["data"]["text/plain"]
    assert "sensor" in text and "value" in text and "Float64" in text


@pytest.mark.parametrize("tamper", ["missing", "tampered"])
def test_bad_session_tokens_are_refused_clearly(seaweed, credentials, uploaded, tamper):
    env = seaweed.env_for(credentials)
    if tamper == "missing":
        del env["AWS_SESSION_TOKEN"]
    else:
        token = env["AWS_SESSION_TOKEN"]
        env["AWS_SESSION_TOKEN"] = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    km, kc = start_quarry(env=env)
    try:
        reply, outputs = run_cell(kc, "SELECT count(*) FROM 's3://data/readings/readings.parquet'")
        assert reply["status"] == "error"
        assert reply["ename"] == "S3CredentialsError", reply
        assert "rejected your credentials" in reply["evalue"]
        # Secrets never appear in errors.
        for secret in (credentials["SecretAccessKey"], credentials["SessionToken"]):
            assert secret not in json.dumps(reply) and secret not in json.dumps(error_of(outputs))
        reply, outputs = run_cell(kc, "SELECT 'alive' AS status")
        assert rows_of(outputs) == [{"status": "alive"}]
    finally:
        stop(km, kc)


def test_expired_credentials_name_the_expiry(seaweed, credentials):
    env = seaweed.env_for(credentials)
    env["AWS_CREDENTIAL_EXPIRATION"] = "2020-02-02T02:02:02Z"
    km, kc = start_quarry(env=env)
    try:
        reply, _ = run_cell(kc, "SELECT * FROM 's3://data/readings/readings.parquet'")
        assert reply["ename"] == "S3CredentialsError"
        assert "expired at 2020-02-02 02:02:02 UTC" in reply["evalue"]
    finally:
        stop(km, kc)


def test_unreachable_endpoint_is_explained(credentials, seaweed):
    env = seaweed.env_for(credentials)
    env["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9"  # discard port: nothing listens
    km, kc = start_quarry(env=env)
    try:
        reply, _ = run_cell(kc, "SELECT * FROM 's3://data/readings/readings.parquet'", timeout=90)
        assert reply["ename"] == "S3Unavailable", reply
        assert "Could not reach S3 at http://127.0.0.1:9" in reply["evalue"]
    finally:
        stop(km, kc)


def test_new_files_under_a_table_prefix_show_up(sts_kernel, seaweed, tmp_path):
    """Folder listings are cached briefly, never for the kernel's life:
    Quarry's own writes (COPY, %s3 cp) show at once, others' within 10 s."""
    _, kc = sts_kernel
    admin = seaweed.admin()
    admin.put_object(Bucket="data", Key="fresh/1.csv", Body=b"x\n1\n")

    def count():
        reply, outputs = run_cell(kc, "SELECT count(*) AS n FROM fresh")
        assert reply["status"] == "ok", outputs
        return rows_of(outputs)[0]["n"]

    reply, _ = run_cell(
        kc,
        "CREATE EXTERNAL TABLE fresh STORED AS CSV LOCATION 's3://data/fresh/' OPTIONS ('format.has_header' 'true')",
    )
    assert reply["status"] == "ok"
    assert count() == 1
    reply, _ = run_cell(
        kc, "COPY (SELECT 2 AS x) TO 's3://data/fresh/2.csv' STORED AS CSV OPTIONS ('format.has_header' 'true')"
    )
    assert reply["status"] == "ok"
    assert count() == 2, "the kernel's own COPY must be visible at once"
    local = tmp_path / "3.csv"
    local.write_text("x\n3\n")
    reply, _ = run_cell(kc, f"%s3 cp {local} s3://data/fresh/3.csv")
    assert reply["status"] == "ok"
    assert count() == 3, "%s3 cp must be visible at once"
    admin.put_object(Bucket="data", Key="fresh/4.csv", Body=b"x\n4\n")
    deadline = time.monotonic() + 20
    while count() != 4:
        assert time.monotonic() < deadline, "a file written by someone else never showed up"
        time.sleep(1)


def test_repeated_reads_come_from_memory_until_the_object_changes(sts_kernel, seaweed):
    """Bytes read from S3 stay in the kernel for the next query, but an
    object rewritten by someone else is answered afresh once listed again."""
    _, kc = sts_kernel
    admin = seaweed.admin()

    def upload(offset):
        table = pa.table({"x": pa.array(range(offset, offset + 50_000), pa.int64())})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        admin.put_object(Bucket="data", Key="cached/t.parquet", Body=buf.getvalue())
        return pc.sum(table["x"]).as_py()

    def total():
        reply, outputs = run_cell(kc, "SELECT sum(x) AS s FROM 's3://data/cached/t.parquet'")
        assert reply["status"] == "ok", outputs
        return rows_of(outputs)[0]["s"]

    def cache_line():
        reply, outputs = run_cell(kc, "%config")
        assert reply["status"] == "ok"
        text = outputs[0]["content"]["data"]["text/plain"]
        return next(line for line in text.splitlines() if line.startswith("s3_cache"))

    first = upload(0)
    assert total() == first
    assert total() == first
    line = cache_line()
    share = re.search(r"(\d+)% of bytes read came from memory", line)
    assert share and int(share.group(1)) > 0, line

    second = upload(1_000_000)
    deadline = time.monotonic() + 20
    while (seen := total()) != second:
        assert seen == first, f"neither the old nor the new answer: {seen}"
        assert time.monotonic() < deadline, "a rewritten object was still answered from memory"
        time.sleep(1)

    reply, outputs = run_cell(kc, "%config s3_cache clear")
    assert reply["status"] == "ok"
    assert re.match(r"Dropped [\d.]+ (B|KiB|MiB) of cached S3 reads", outputs[0]["content"]["text"]), outputs
    assert re.search(r"s3_cache +0 B of [\d.]+ (MiB|GiB) held", cache_line())
    assert total() == second


def test_a_repeated_csv_query_reads_no_text_until_the_file_changes(seaweed, credentials):
    """CSV is read whole and parsed every time by other engines; Quarry keeps
    the decoded columns, so the next query over the same file version reads
    no text at all (what crosses the wire is counted by a forwarder in front
    of S3), and a rewritten file is answered afresh once listed again."""
    admin = seaweed.admin()

    def upload(offset):
        table = pa.table({
            "id": pa.array(range(offset, offset + 100_000), pa.int64()),
            "site": [f"site{i % 40}" for i in range(100_000)],
        })
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        admin.put_object(Bucket="data", Key="decoded/t.csv", Body=buf.getvalue())
        return pc.sum(table["id"]).as_py(), len(buf.getvalue())

    first, size = upload(0)
    with Outage(int(seaweed.endpoint.rsplit(":", 1)[1])) as wire:
        km, kc = start_quarry(env={**seaweed.env_for(credentials), "AWS_ENDPOINT_URL_S3": wire.url})
        try:
            def total(sql="SELECT sum(id) AS s FROM 's3://data/decoded/t.csv'"):
                before = wire.received
                reply, outputs = run_cell(kc, sql)
                assert reply["status"] == "ok", outputs
                return rows_of(outputs)[0]["s"], wire.received - before

            answer, read = total()
            assert answer == first and read > size, (read, size)
            for _ in range(3):
                answer, read = total()
                assert answer == first
                assert read < size / 20, f"a repeated query read {read} bytes of a {size}-byte CSV"
            # A column not decoded yet (the first query decodes only what it
            # names): parsed again, but from the bytes kept in memory, so no
            # text crosses the wire; then both column sets stay answered.
            distinct = "SELECT count(DISTINCT site) AS s FROM 's3://data/decoded/t.csv'"
            for sql, expected in ((distinct, 40), (distinct, 40), (None, first)):
                answer, read = total(sql) if sql else total()
                assert answer == expected and read < size / 20, (sql, read)
            reply, outputs = run_cell(kc, "%config")
            assert "CSV/JSON kept decoded" in outputs[0]["content"]["data"]["text/plain"], outputs

            second, _ = upload(1_000_000)
            deadline = time.monotonic() + 20
            while (seen := total()[0]) != second:
                assert seen == first, f"neither the old nor the new answer: {seen}"
                assert time.monotonic() < deadline, "a rewritten CSV was still answered from memory"
                time.sleep(1)
        finally:
            stop(km, kc)
