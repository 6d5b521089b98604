"""The per-user catalog over real S3 (SeaweedFS with STS credentials):
kernels of one user share one catalog file (QUARRY_CATALOG) — a table
made in one is there in another at once and after a restart, a drop is a
drop everywhere, two kernels creating tables at once lose neither, and a
kernel with 200 kept tables starts without a single S3 request."""

import io
import time
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.kernels import rows_of, run_cell, start_quarry, stop, text_of
from support.outage import Outage


@pytest.fixture(scope="module")
def readings(seaweed):
    table = pa.table({"site": ["north", "south", "north"], "reading": [1.5, 2.0, 3.5]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    for part in ("a", "b"):
        seaweed.admin().put_object(Bucket="data", Key=f"catalog/readings/{part}.parquet", Body=sink.getvalue())
    return table


@pytest.fixture
def user(seaweed, oidc, tmp_path):
    """The environment of one user's kernels: one catalog file."""
    credentials = seaweed.assume_role(oidc.mint("alice"))
    return {
        **seaweed.env_for(credentials),
        "QUARRY_CATALOG": str(tmp_path / "catalog.json"),
        # Its own upload journal: no other test's leftovers to reap at start.
        "QUARRY_UPLOAD_JOURNAL": str(tmp_path / "journal"),
    }


def ok(kc, code, timeout=120):
    reply, outputs = run_cell(kc, code, timeout=timeout)
    assert reply["status"] == "ok", (code, reply.get("ename"), reply.get("evalue"))
    return outputs


CREATE = "CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://data/catalog/readings/'"


def test_a_table_made_in_one_kernel_is_there_in_another_and_after_a_restart(user, readings):
    first, second = start_quarry(env=user), start_quarry(env=user)
    try:
        ok(first[1], CREATE)
        ok(first[1], "CREATE VIEW north AS SELECT reading FROM readings WHERE site = 'north'")
        rows = rows_of(ok(second[1], "SELECT count(*) AS n, sum(reading) AS total FROM readings"))
        assert rows == [{"n": 6, "total": 14.0}]
        assert rows_of(ok(second[1], "SELECT count(*) AS n FROM north")) == [{"n": 4}]
        listing = text_of(ok(second[1], "%catalog"))
        assert "readings  table  PARQUET  s3://data/catalog/readings/" in listing, listing
        assert "north  view" in listing, listing
        # A kernel's own table stays its own, and says so.
        ok(second[1], "CREATE TABLE scratch AS SELECT 1 AS x")
        assert "In this kernel only (in memory): scratch" in text_of(ok(second[1], "%catalog"))
        assert "scratch" not in text_of(ok(first[1], "SHOW TABLES"))
    finally:
        stop(*first)
        stop(*second)
    restarted = start_quarry(env=user)
    try:
        assert rows_of(ok(restarted[1], "SELECT count(*) AS n FROM readings")) == [{"n": 6}]
        # The notebook run again from the top: the same CREATE is a no-op.
        ok(restarted[1], CREATE)
        reply, _ = run_cell(restarted[1], CREATE.replace("readings/'", "readings/a.parquet'"))
        assert reply["status"] == "error"
        assert "already kept in your catalog with another definition" in reply["evalue"], reply["evalue"]
    finally:
        stop(*restarted)


def test_a_drop_in_one_kernel_is_a_drop_everywhere(user, readings):
    first, second = start_quarry(env=user), start_quarry(env=user)
    try:
        ok(first[1], CREATE)
        assert rows_of(ok(second[1], "SELECT count(*) AS n FROM readings")) == [{"n": 6}]
        ok(first[1], "DROP TABLE readings")
        reply, _ = run_cell(second[1], "SELECT count(*) AS n FROM readings")
        assert reply["status"] == "error" and "'readings' does not exist" in reply["evalue"], reply
    finally:
        stop(*first)
        stop(*second)


def test_two_kernels_creating_tables_at_once_lose_neither(user, readings):
    kernels = [start_quarry(env=user) for _ in range(2)]
    try:
        statements = [
            "; ".join(
                f"CREATE EXTERNAL TABLE k{k}_t{i} STORED AS PARQUET LOCATION 's3://data/catalog/readings/'"
                for i in range(10)
            )
            for k in range(2)
        ]
        ids = [kc.execute(sql) for (_, kc), sql in zip(kernels, statements)]
        for (_, kc), msg_id in zip(kernels, ids):
            reply = kc.get_shell_msg(timeout=120)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=120)
            assert reply["content"]["status"] == "ok", reply["content"]
        names = {row["table_name"] for row in rows_of(ok(kernels[0][1], "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"))}
        assert names >= {f"k{k}_t{i}" for k in range(2) for i in range(10)}, names
    finally:
        for km, kc in kernels:
            stop(km, kc)


def test_a_kernel_with_200_kept_tables_starts_without_asking_s3(user, seaweed, readings):
    maker = start_quarry(env=user)
    try:
        ok(maker[1], "; ".join(
            f"CREATE EXTERNAL TABLE t{i} STORED AS PARQUET LOCATION 's3://data/catalog/readings/'" for i in range(200)
        ), timeout=300)
    finally:
        stop(*maker)
    with Outage(urlparse(seaweed.endpoint).port) as s3:
        through = {**user, "AWS_ENDPOINT_URL_S3": s3.url}
        started = time.monotonic()
        km, kc = start_quarry(env=through)
        try:
            ready = time.monotonic() - started
            tables = rows_of(ok(kc, "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'"))
            assert tables == [{"n": 200}]
            columns = rows_of(ok(kc, "SELECT column_name FROM information_schema.columns WHERE table_name = 't7'"))
            assert [c["column_name"] for c in columns] == ["site", "reading"]
            assert s3.sent == 0, f"{s3.sent} bytes went to S3 before any table was used"
            print(f"kernel with 200 kept tables ready in {ready:.2f} s")
            # The first use reads S3, and answers.
            assert rows_of(ok(kc, "SELECT count(*) AS n FROM t7")) == [{"n": 6}]
            assert s3.sent > 0
        finally:
            stop(km, kc)
