"""`%s3` magics against SeaweedFS with STS credentials."""

import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.kernels import run_cell, start_quarry, stop, text_of


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("bob"))
    km, kc = start_quarry(env=seaweed.env_for(credentials))
    yield kc, credentials
    stop(km, kc)


def ok(kc, code):
    reply, outputs = run_cell(kc, code, timeout=120)
    assert reply["status"] == "ok", (code, reply.get("evalue"))
    return outputs


def test_whoami_shows_identity_but_no_secrets(kernel, seaweed):
    kc, credentials = kernel
    text = text_of(ok(kc, "%s3 whoami"))
    assert credentials["AccessKeyId"][:4] + "…" in text
    assert "temporary (STS)" in text and seaweed.endpoint in text and "expires" in text
    for secret in (credentials["SecretAccessKey"], credentials["SessionToken"], credentials["AccessKeyId"]):
        assert secret not in text


def test_ls_lists_folders_first_with_sizes_and_pages(kernel, seaweed):
    kc, _ = kernel
    admin = seaweed.admin()
    admin.put_object(Bucket="data", Key="ls/readme.txt", Body=b"x" * 2048)
    admin.put_object(Bucket="data", Key="ls/sub/a.csv", Body=b"a\n1\n")
    text = text_of(ok(kc, "%s3 ls s3://data/ls/"))
    lines = text.strip().splitlines()
    assert "PRE" in lines[0] and lines[0].endswith("s3://data/ls/sub/")
    assert "2.0 KiB" in lines[1] and lines[1].endswith("s3://data/ls/readme.txt")
    assert lines[-1].startswith("1 folder, 1 object")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: admin.put_object(Bucket="data", Key=f"many/{i:05d}.txt", Body=b"."), range(1100)))
    text = text_of(ok(kc, "%s3 ls s3://data/many/ --limit 20"))
    assert "showing the first 20" in text
    assert text.count("s3://data/many/") == 20
    text = text_of(ok(kc, "%s3 ls s3://data/many/ --all"))
    assert "0 folders, 1100 objects" in text

    buckets = text_of(ok(kc, "%s3 ls"))
    assert "s3://data/" in buckets


def test_ls_shows_a_panel_folder_as_a_folder(kernel, seaweed):
    """The panel makes a folder as a `prefix/` marker object; `%s3 ls` shows
    it as a folder above and as an empty folder inside, never as a 0-byte
    file in itself."""
    kc, _ = kernel
    admin = seaweed.admin()
    admin.put_object(Bucket="data", Key="marked/empty/", Body=b"")
    admin.put_object(Bucket="data", Key="marked/full/", Body=b"")
    admin.put_object(Bucket="data", Key="marked/full/a.csv", Body=b"a\n1\n")
    above = text_of(ok(kc, "%s3 ls s3://data/marked/"))
    assert "PRE" in above and "s3://data/marked/empty/" in above and above.strip().endswith("2 folders, 0 objects (0 B)")
    inside = text_of(ok(kc, "%s3 ls s3://data/marked/empty/"))
    assert inside.strip() == "s3://data/marked/empty/ is an empty folder.", inside
    full = text_of(ok(kc, "%s3 ls s3://data/marked/full/"))
    assert "0 folders, 1 object" in full and "s3://data/marked/full/a.csv" in full
    assert "s3://data/marked/full/\n" not in full and " 0 B  s3://data/marked/full/" not in full, full


def test_head_previews_tables_and_text(kernel, seaweed):
    kc, _ = kernel
    table = pa.table({"id": list(range(50)), "name": [f"n{i}" for i in range(50)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    seaweed.admin().put_object(Bucket="data", Key="head/t.parquet", Body=buf.getvalue())
    seaweed.admin().put_object(Bucket="data", Key="head/notes.txt", Body="\n".join(f"line {i}" for i in range(100)).encode())
    outputs = ok(kc, "%s3 head s3://data/head/t.parquet --rows 5")
    data = next(m for m in outputs if m["msg_type"] == "display_data")["content"]["data"]
    assert data["application/vnd.dataresource+json"]["data"][4] == {"id": 4, "name": "n4"}
    assert len(data["application/vnd.dataresource+json"]["data"]) == 5
    text = text_of(ok(kc, "%s3 head s3://data/head/notes.txt"))
    assert text.startswith("line 0\nline 1\n") and "line 19" in text and "line 20" not in text


def test_cp_round_trips_byte_identical_with_multipart(kernel, seaweed, tmp_path):
    kc, _ = kernel
    payload = os.urandom(12 * 1024 * 1024 + 123)  # more than one 8 MiB part
    local = tmp_path / "blob.bin"
    local.write_bytes(payload)
    text = text_of(ok(kc, f"%s3 cp {local} s3://data/cp/"))
    assert "Copied" in text and "s3://data/cp/blob.bin" in text
    stored = seaweed.admin().get_object(Bucket="data", Key="cp/blob.bin")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(payload).digest()

    ok(kc, "%s3 cp s3://data/cp/blob.bin s3://data/cp2/")
    back = tmp_path / "back"
    back.mkdir()
    ok(kc, f"%s3 cp s3://data/cp2/blob.bin {back}/")
    assert (back / "blob.bin").read_bytes() == payload
    assert not list(back.glob("*.quarry-partial"))

    # Big objects are copied server-side part by part (UploadPartCopy).
    big = os.urandom(70 * 1024 * 1024)
    seaweed.admin().put_object(Bucket="data", Key="cp/big.bin", Body=big)
    ok(kc, "%s3 cp s3://data/cp/big.bin s3://data/cp3/big-copy.bin")
    copied = seaweed.admin().get_object(Bucket="data", Key="cp3/big-copy.bin")["Body"].read()
    assert hashlib.sha256(copied).digest() == hashlib.sha256(big).digest()
    assert not seaweed.admin().list_multipart_uploads(Bucket="data").get("Uploads")


def test_rm_needs_recursive_for_folders(kernel, seaweed):
    kc, _ = kernel
    admin = seaweed.admin()
    for i in range(3):
        admin.put_object(Bucket="data", Key=f"rm/dir/{i}.txt", Body=b"x")
    admin.put_object(Bucket="data", Key="rm/single.txt", Body=b"x")
    ok(kc, "%s3 rm s3://data/rm/single.txt")
    reply, _ = run_cell(kc, "%s3 rm s3://data/rm/dir")
    assert reply["status"] == "error" and "--recursive" in reply["evalue"]
    text = text_of(ok(kc, "%s3 rm --recursive s3://data/rm/dir/"))
    assert "Deleted 3 objects" in text
    assert admin.list_objects_v2(Bucket="data", Prefix="rm/").get("KeyCount") == 0


def test_s3_errors_are_clear(kernel, seaweed):
    kc, credentials = kernel
    reply, _ = run_cell(kc, "%s3 ls s3://forbidden/")
    assert reply["ename"] == "S3AccessDenied", reply
    reply, _ = run_cell(kc, "%s3 head s3://data/nope.csv")
    assert reply["ename"] == "S3NotFound" and "s3://data/nope.csv does not exist" in reply["evalue"]
    reply, _ = run_cell(kc, "%s3 frobnicate")
    assert reply["ename"] == "UsageError" and "%s3 ls" in reply["evalue"]
    assert credentials["SecretAccessKey"] not in json.dumps(reply)


def test_an_interrupted_upload_leaves_nothing_behind(seaweed, oidc, tmp_path):
    """The stop button during `%s3 cp` ends the upload: no object appears
    and no multipart parts are kept (billed) on the server."""
    import time

    credentials = seaweed.assume_role(oidc.mint("bob"))
    km, kc = start_quarry(env=seaweed.env_for(credentials))
    try:
        big = tmp_path / "big.bin"
        with open(big, "wb") as f:
            for _ in range(40):
                f.write(os.urandom(8 << 20))  # 320 MiB: many parts
        msg_id = kc.execute(f"%s3 cp {big} s3://data/interrupted/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the progress line: parts are in flight
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id and "Uploading" in json.dumps(msg["content"]):
                break
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        while reply["parent_header"]["msg_id"] != msg_id:
            reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["ename"] == "Interrupted", reply["content"]
        admin = seaweed.admin()
        assert not admin.list_objects_v2(Bucket="data", Prefix="interrupted/").get("Contents")
        # The abort may trail the reply by a moment.
        for _ in range(50):
            if not admin.list_multipart_uploads(Bucket="data", Prefix="interrupted/").get("Uploads"):
                break
            time.sleep(0.2)
        assert not admin.list_multipart_uploads(Bucket="data", Prefix="interrupted/").get("Uploads")
        ok(kc, "SELECT 1")
    finally:
        stop(km, kc)


def test_a_kernel_killed_mid_upload_leaves_no_parts_after_the_next_start(seaweed, oidc, tmp_path):
    """SIGKILL during `%s3 cp`: nothing can abort the upload then, so S3
    keeps its parts; the next kernel on the same home volume aborts it from
    the journal the killed one kept, and strikes it off."""
    import signal
    import time

    credentials = seaweed.assume_role(oidc.mint("bob"))
    journal = tmp_path / "journal"
    env = {**seaweed.env_for(credentials), "QUARRY_UPLOAD_JOURNAL": str(journal)}
    admin = seaweed.admin()

    def pending():
        return admin.list_multipart_uploads(Bucket="data", Prefix="killed/").get("Uploads", [])

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(8 << 20))
    km, kc = start_quarry(env=env)
    try:
        kc.execute(f"%s3 cp {big} s3://data/killed/")
        deadline = time.monotonic() + 60
        while not pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending(), "the upload started"
        assert len(list(journal.glob("*.upload"))) == 1, "and was written down"
        os.kill(km.provisioner.pid, signal.SIGKILL)
        km.provisioner.process.wait(timeout=10)
    finally:
        stop(km, kc)
    assert len(pending()) == 1, "a killed kernel leaves its parts on S3"
    km, kc = start_quarry(env=env)
    try:
        deadline = time.monotonic() + 30
        while pending() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pending() == []
        assert list(journal.glob("*.upload")) == []
        assert not admin.list_objects_v2(Bucket="data", Prefix="killed/").get("Contents")
        ok(kc, "SELECT 1")
    finally:
        stop(km, kc)
