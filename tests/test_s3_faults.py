"""Write statements under faults: a query that fails half way, and S3 going
away in the middle of a `COPY`. Whatever happens, no partial object
appears where the user asked for a result, the one sentence says so, and
no multipart upload is left on S3 once it answers again.

DataFusion alone *completes* the file it was writing when its query fails
(its writer sees the input end), and leaves the upload of a failed part
unfinished: these tests fail without Quarry's staged writes."""

import time
from urllib.parse import urlparse

import pytest

from support.kernels import rows_of, run_cell, start_quarry, start_user_kernel, stop
from support.outage import Outage

# Rows enough for several row groups and multipart parts before the
# failure; the division fails at row FAIL_AT.
ROWS = 4_000_000
FAIL_AT = 3_000_000


def keys(admin, prefix):
    listed = admin.list_objects_v2(Bucket="data", Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def uploads(admin, prefix):
    return admin.list_multipart_uploads(Bucket="data", Prefix=prefix).get("Uploads", [])


def reply_to(kc, msg_id, timeout=300):
    """The shell reply to `msg_id`, for a cell started with kc.execute."""
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return reply["content"]


def wait_until_no_uploads(admin, prefix, within=90):
    deadline = time.monotonic() + within
    while uploads(admin, prefix) and time.monotonic() < deadline:
        time.sleep(1)


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    km, kc = start_user_kernel(seaweed, oidc, "alice")
    yield kc
    stop(km, kc)


def failing_query():
    return f"SELECT i, random() AS r, 10 / ({FAIL_AT} - i) AS boom FROM generate_series(1, {ROWS}) AS t(i)"


def test_a_copy_whose_query_fails_half_way_publishes_nothing(kernel, seaweed):
    reply, _ = run_cell(kernel, f"COPY ({failing_query()}) TO 's3://data/faults/half.parquet'", timeout=300)
    assert reply["status"] == "error", reply
    message = reply["evalue"]
    assert "Divide by zero" in message, message
    assert message.endswith(
        "Nothing was written to s3://data/faults/half.parquet: a statement's output appears only when the statement succeeds."
    ), message
    admin = seaweed.admin()
    assert keys(admin, "faults/half") == []
    assert uploads(admin, "faults/half") == []
    # The kernel goes on, and a statement that succeeds is published.
    reply, _ = run_cell(kernel, "COPY (SELECT 1 AS one) TO 's3://data/faults/fine.parquet'")
    assert reply["status"] == "ok", reply
    assert keys(admin, "faults/fine") == ["faults/fine.parquet"]


def test_an_insert_whose_query_fails_half_way_adds_no_file(kernel, seaweed):
    admin = seaweed.admin()
    for statement in (
        "CREATE EXTERNAL TABLE fault_sink (i BIGINT, r DOUBLE, boom BIGINT) STORED AS PARQUET LOCATION 's3://data/faults/sink/'",
        "INSERT INTO fault_sink VALUES (1, 0.5, 2)",
    ):
        reply, _ = run_cell(kernel, statement)
        assert reply["status"] == "ok", (statement, reply)
    before = keys(admin, "faults/sink/")
    assert len(before) == 1, before
    reply, _ = run_cell(kernel, f"INSERT INTO fault_sink {failing_query()}", timeout=300)
    assert reply["status"] == "error", reply
    assert "Divide by zero" in reply["evalue"], reply["evalue"]
    assert "Nothing was written to table fault_sink" in reply["evalue"], reply["evalue"]
    assert keys(admin, "faults/sink/") == before
    assert uploads(admin, "faults/sink/") == []
    rows = rows_of(run_cell(kernel, "SELECT count(*) AS n FROM fault_sink")[1])
    assert rows == [{"n": 1}]


def test_s3_going_away_mid_copy_leaves_no_object_and_no_parts(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("alice"))
    admin = seaweed.admin()
    with Outage(urlparse(seaweed.endpoint).port) as s3:
        env = {**seaweed.env_for(credentials), "AWS_ENDPOINT_URL_S3": s3.url}
        km, kc = start_quarry(env=env)
        try:
            # Random doubles do not compress: ~100 MiB of Parquet, uploaded
            # in parts while it is computed.
            sql = "COPY (SELECT random() AS a, random() AS b, i FROM generate_series(1, 6000000) AS t(i)) TO 's3://data/faults/cut.parquet'"
            msg_id = kc.execute(sql)
            deadline = time.monotonic() + 240
            while s3.sent < 12 << 20:
                assert time.monotonic() < deadline, f"only {s3.sent} bytes went to S3"
                time.sleep(0.05)
            s3.cut()
            reply = reply_to(kc, msg_id)
            assert reply["status"] == "error", reply
            message = reply["evalue"]
            assert reply["ename"] == "S3Unavailable", (reply["ename"], message)
            assert "Nothing was written to s3://data/faults/cut.parquet" in message, message
            assert "Its unfinished upload is aborted as soon as S3 answers again." in message, message
            assert "\n" not in message
            # S3 itself (not through the cut): no object, the parts held.
            assert keys(admin, "faults/cut") == []
            assert len(uploads(admin, "faults/cut")) == 1
            s3.restore()
            wait_until_no_uploads(admin, "faults/cut")
            assert uploads(admin, "faults/cut") == [], "the abort was not retried once S3 answered"
            assert keys(admin, "faults/cut") == []
            # The kernel is fine and writes again through the same endpoint.
            reply, _ = run_cell(kc, "COPY (SELECT 2 AS two) TO 's3://data/faults/after.parquet'")
            assert reply["status"] == "ok", reply
        finally:
            stop(km, kc)


def test_s3_going_away_mid_upload_leaves_no_object_and_no_parts(seaweed, oidc, tmp_path):
    """`%s3 cp` of a local file while S3 goes away: one sentence, no
    object, and the upload's parts are aborted once S3 is back (the
    journal entry stays until then, for a reaper if the kernel dies)."""
    import os

    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(80 << 20))
    journal = tmp_path / "journal"
    credentials = seaweed.assume_role(oidc.mint("alice"))
    admin = seaweed.admin()
    with Outage(urlparse(seaweed.endpoint).port) as s3:
        env = {**seaweed.env_for(credentials), "AWS_ENDPOINT_URL_S3": s3.url, "QUARRY_UPLOAD_JOURNAL": str(journal)}
        km, kc = start_quarry(env=env)
        try:
            msg_id = kc.execute(f"%s3 cp {source} s3://data/faults/up.bin")
            deadline = time.monotonic() + 240
            while s3.sent < 20 << 20:
                assert time.monotonic() < deadline, f"only {s3.sent} bytes went to S3"
                time.sleep(0.05)
            s3.cut()
            reply = reply_to(kc, msg_id)
            assert reply["status"] == "error", reply
            assert reply["ename"] == "S3Unavailable", (reply["ename"], reply["evalue"])
            assert "\n" not in reply["evalue"]
            assert keys(admin, "faults/up") == []
            assert len(uploads(admin, "faults/up")) == 1
            assert len(list(journal.glob("*.upload"))) == 1, "the journal let go before S3 did"
            s3.restore()
            wait_until_no_uploads(admin, "faults/up")
            assert uploads(admin, "faults/up") == [], "the abort was not retried once S3 answered"
            assert list(journal.glob("*.upload")) == []
        finally:
            stop(km, kc)
