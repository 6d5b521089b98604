"""The S3 panel backend (`quarry serve`), reached through the real
jupyter-server-proxy inside a running Jupyter Server, with STS credentials."""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.jupyter import JupyterServer, server_env
from support.seaweed import Seaweed

# What the backend may buffer for all uploads together (503 past it).
UPLOAD_BUFFER = "64m"


@pytest.fixture(scope="module")
def panel(oidc, tmp_path_factory, quarry_bin):
    workdir = tmp_path_factory.mktemp("panel")
    with Seaweed(workdir / "s3", oidc, user_buckets=("data",)) as s3:
        for bucket in ("data", "forbidden"):
            s3.create_bucket(bucket)
        credentials = s3.assume_role(oidc.mint("carol"))
        env = server_env({**s3.env_for(credentials), "QUARRY_BIN": quarry_bin, "QUARRY_UPLOAD_BUFFER": UPLOAD_BUFFER})
        server = JupyterServer(env, workdir)
        try:
            yield server, s3, credentials, workdir
        finally:
            server.stop()


def test_listing_buckets_and_paging_a_large_prefix(panel):
    server, s3, _, _ = panel
    s = server.session()
    r = s.get(server.url("api/buckets"), timeout=60)
    assert r.status_code == 200, r.text
    assert "data" in [b["name"] for b in r.json()["buckets"]]

    admin = s3.admin()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: admin.put_object(Bucket="data", Key=f"big/{i:05d}.txt", Body=b"x"), range(5000)))
    keys, token, pages = [], None, 0
    while True:
        params = {"bucket": "data", "prefix": "big/", "limit": 1000}
        if token:
            params["token"] = token
        page = s.get(server.url("api/objects"), params=params, timeout=60).json()
        pages += 1
        assert len(page["objects"]) <= 1000
        keys += [o["key"] for o in page["objects"]]
        token = page["next_token"]
        if not token:
            break
    assert pages == 5 and len(keys) == 5000 and len(set(keys)) == 5000
    assert keys == sorted(keys)


def upload(server, s, key, payload, chunk):
    upload_id, r = None, None
    chunks = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
    for n, data in enumerate(chunks, start=1):
        params = {"bucket": "data", "key": key, "part": n, "last": str(n == len(chunks)).lower()}
        if upload_id:
            params["upload_id"] = upload_id
        r = s.put(server.url("api/upload"), params=params, data=data, timeout=60)
        assert r.status_code == 200, r.text
        upload_id = upload_id or r.json().get("upload_id")
    return r.json()


def test_big_chunks_overlap_part_uploads(panel):
    server, s3, _, _ = panel
    s = server.session()
    payload = os.urandom(41 * 1024 * 1024)
    done = upload(server, s, "up/overlap.bin", payload, 8 * 1024 * 1024)
    assert done["done"] is True and done["size"] == len(payload)
    stored = s3.admin().get_object(Bucket="data", Key="up/overlap.bin")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(payload).digest()


def test_chunked_upload_of_30_mib_reads_back_identical(panel):
    server, s3, _, _ = panel
    s = server.session()
    payload = os.urandom(30 * 1024 * 1024 + 17)
    chunk = 1024 * 1024
    upload_id = None
    chunks = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
    for n, data in enumerate(chunks, start=1):
        params = {"bucket": "data", "key": "up/big.bin", "part": n, "last": str(n == len(chunks)).lower()}
        if upload_id:
            params["upload_id"] = upload_id
        r = s.put(server.url("api/upload"), params=params, data=data, timeout=60)
        assert r.status_code == 200, r.text
        upload_id = upload_id or r.json().get("upload_id")
    assert r.json()["done"] is True and r.json()["size"] == len(payload)
    stored = s3.admin().get_object(Bucket="data", Key="up/big.bin")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(payload).digest()
    assert not s3.admin().list_multipart_uploads(Bucket="data").get("Uploads")

    # No browser-reachable S3 endpoint is configured (QUARRY_S3_PUBLIC_ENDPOINT):
    # the bytes come through the backend, never a redirect to S3's own
    # (on the platform, in-cluster) address.
    r = s.get(server.url("api/download"), params={"bucket": "data", "key": "up/big.bin"}, allow_redirects=False, timeout=60)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(payload).digest()
    assert r.headers["Content-Disposition"] == 'attachment; filename="big.bin"'

    # Ranged streaming fallback.
    r = s.get(server.url("api/download"), params={"bucket": "data", "key": "up/big.bin", "mode": "stream"},
              headers={"Range": "bytes=100-199"}, timeout=60)
    assert r.status_code == 206 and r.content == payload[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(payload)}"


def test_downloads_redirect_to_the_public_endpoint_when_one_is_set(panel):
    """With QUARRY_S3_PUBLIC_ENDPOINT (the same S3 under the name browsers
    use; here `localhost` for the server's 127.0.0.1), the download is a
    presigned redirect there, and the link serves the bytes."""
    _, s3, credentials, workdir = panel
    payload = os.urandom(3 * 1024 * 1024)
    s3.admin().put_object(Bucket="data", Key="public/file.bin", Body=payload)
    public = s3.endpoint.replace("127.0.0.1", "localhost")
    assert public != s3.endpoint
    env = server_env({**s3.env_for(credentials), "QUARRY_BIN": os.environ["QUARRY_BIN"], "QUARRY_S3_PUBLIC_ENDPOINT": public})
    (workdir / "public").mkdir(exist_ok=True)
    server = JupyterServer(env, workdir / "public")
    try:
        s = server.session()
        r = s.get(server.url("api/download"), params={"bucket": "data", "key": "public/file.bin"}, allow_redirects=False, timeout=60)
        assert r.status_code == 302, r.text
        location = r.headers["Location"]
        assert location.startswith(public + "/data/public/file.bin") and "X-Amz-Signature" in location
        body = requests.get(location, timeout=60).content
        assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
        # mode=stream still streams.
        r = s.get(server.url("api/download"), params={"bucket": "data", "key": "public/file.bin", "mode": "stream"}, timeout=60)
        assert r.status_code == 200 and r.content == payload
    finally:
        server.stop()


def test_out_of_order_chunk_aborts_cleanly(panel):
    server, s3, _, _ = panel
    s = server.session()
    r = s.put(server.url("api/upload"), params={"bucket": "data", "key": "up/bad.bin", "part": 1}, data=b"a" * 1000, timeout=30)
    upload_id = r.json()["upload_id"]
    r = s.put(server.url("api/upload"), params={"bucket": "data", "key": "up/bad.bin", "part": 3, "upload_id": upload_id}, data=b"b", timeout=30)
    assert r.status_code == 409 and "Expected chunk 2" in r.json()["message"]


def test_preview_metadata_folder_and_delete(panel):
    server, s3, _, _ = panel
    s = server.session()
    s3.admin().put_object(Bucket="data", Key="pv/t.csv", Body=b"a,b\n1,x\n2,y\n")
    r = s.get(server.url("api/preview"), params={"bucket": "data", "key": "pv/t.csv"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "table" and r.json()["table"]["data"] == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    meta = s.get(server.url("api/object"), params={"bucket": "data", "key": "pv/t.csv"}, timeout=30).json()
    assert meta["size"] == 12

    r = s.post(server.url("api/folder"), params={"bucket": "data", "prefix": "pv/new"}, timeout=30)
    assert r.status_code == 201
    listing = s.get(server.url("api/objects"), params={"bucket": "data", "prefix": "pv/"}, timeout=30).json()
    assert "pv/new/" in listing["prefixes"]
    # Inside the new folder: nothing, not its own marker as a 0-byte file.
    inside = s.get(server.url("api/objects"), params={"bucket": "data", "prefix": "pv/new/"}, timeout=30).json()
    assert inside["objects"] == [] and inside["prefixes"] == [], inside

    assert s.delete(server.url("api/object"), params={"bucket": "data", "key": "pv/t.csv"}, timeout=30).status_code == 200
    r = s.delete(server.url("api/object"), params={"bucket": "data", "key": "pv/t.csv"}, timeout=30)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = s.delete(server.url("api/object"), params={"bucket": "data", "key": "pv/"}, timeout=30)
    assert r.status_code == 200 and r.json()["deleted"] >= 1


def test_copy_and_move_objects_and_folders(panel):
    server, s3, _, _ = panel
    s = server.session()
    admin = s3.admin()
    for key in ("proj/a.csv", "proj/deep/b.csv", "proj/deep/er/c b.csv"):
        admin.put_object(Bucket="data", Key=key, Body=key.encode())
    big = os.urandom(70 * 1024 * 1024)  # above the multipart-copy threshold
    admin.put_object(Bucket="data", Key="proj/big.bin", Body=big)

    def post(route, **params):
        return s.post(server.url(f"api/{route}"), params={"bucket": "data", **params}, timeout=120)

    r = post("copy", key="proj/big.bin", to_key="copies/big.bin")
    assert r.status_code == 201, r.text
    assert admin.get_object(Bucket="data", Key="copies/big.bin")["Body"].read() == big
    # An existing destination is refused unless asked to overwrite.
    r = post("copy", key="proj/a.csv", to_key="copies/big.bin")
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    r = post("move", key="proj/", to_key="moved/")
    assert r.status_code == 201, r.text
    assert r.json()["objects"] == 4
    keys = sorted(o["Key"] for o in admin.list_objects_v2(Bucket="data", Prefix="moved/")["Contents"])
    assert keys == ["moved/a.csv", "moved/big.bin", "moved/deep/b.csv", "moved/deep/er/c b.csv"]
    assert admin.get_object(Bucket="data", Key="moved/deep/er/c b.csv")["Body"].read() == b"proj/deep/er/c b.csv"
    # Nothing of the source is left, not even an empty folder in the listing.
    listing = s.get(server.url("api/objects"), params={"bucket": "data", "prefix": ""}, timeout=30).json()
    assert "proj/" not in listing["prefixes"]
    # Refusals in one sentence.
    assert post("move", key="moved/", to_key="moved/inner/").status_code == 400
    assert post("move", key="moved/", to_key="file.csv").status_code == 400
    r = post("move", key="nothing/", to_key="else/")
    assert r.status_code == 404 and "does not exist" in r.json()["message"]
    r = post("copy", key="moved/a.csv", to_bucket="forbidden", to_key="a.csv")
    assert r.status_code == 403 and "Access denied" in r.json()["message"]


def test_cancelled_upload_leaves_no_parts(panel):
    server, s3, _, _ = panel
    s = server.session()
    params = {"bucket": "data", "key": "up/cancel.bin", "part": 1}
    first = s.put(server.url("api/upload"), params=params, data=os.urandom(6 << 20), timeout=60).json()
    upload_id = first["upload_id"]
    r = s.delete(server.url("api/upload"), params={"upload_id": upload_id}, timeout=60)
    assert r.status_code == 200 and r.json()["cancelled"] is True
    assert s3.admin().list_multipart_uploads(Bucket="data", Prefix="up/cancel.bin").get("Uploads", []) == []
    # The id is gone: a late chunk is told so.
    late = s.put(server.url("api/upload"), params={**params, "part": 2, "upload_id": upload_id}, data=b"x", timeout=60)
    assert late.status_code == 404 and "unknown" in late.json()["message"]


def test_uploads_together_cannot_buffer_past_the_limit(panel):
    """Twelve uploads each holding a chunk just under a part fill the
    64 MiB buffer; a thirteenth chunk gets 503 `busy` (and is not lost:
    the same chunk is taken once room is made), and cancelling gives the
    room back."""
    server, s3, _, _ = panel
    s = server.session()
    chunk = os.urandom((5 << 20) - 64 * 1024)
    ids = []
    for i in range(12):
        r = s.put(server.url("api/upload"), params={"bucket": "data", "key": f"up/many/{i}.bin", "part": 1}, data=chunk, timeout=60)
        assert r.status_code == 200, r.text
        ids.append(r.json()["upload_id"])
    params = {"bucket": "data", "key": "up/many/11.bin", "part": 2, "upload_id": ids[-1]}
    r = s.put(server.url("api/upload"), params=params, data=chunk, timeout=60)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "busy"
    assert r.json()["message"].startswith("The panel is already buffering ")
    assert r.json()["message"].endswith(" of uploads, its limit; this chunk was not taken, retry it in a moment.")
    for upload_id in ids[:2]:
        assert s.delete(server.url("api/upload"), params={"upload_id": upload_id}, timeout=60).status_code == 200
    r = s.put(server.url("api/upload"), params=params, data=chunk, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["part"] == 2, "the refused chunk was not counted"
    for upload_id in ids[2:]:
        s.delete(server.url("api/upload"), params={"upload_id": upload_id}, timeout=60)
    assert s3.admin().list_multipart_uploads(Bucket="data", Prefix="up/many/").get("Uploads", []) == []


def test_security_login_xsrf_cross_site_and_injection(panel):
    server, s3, credentials, _ = panel
    r = server.session(authenticated=False).get(server.url("api/buckets"), allow_redirects=False, timeout=30)
    assert r.status_code in (302, 403)
    no_xsrf = server.session(xsrf=False)
    r = no_xsrf.post(server.url("api/folder"), params={"bucket": "data", "prefix": "x"}, timeout=30)
    assert r.status_code == 403 and r.json()["error"] == "xsrf"
    wrong = server.session()
    wrong.headers["X-XSRFToken"] = "not-the-cookie"
    assert wrong.delete(server.url("api/object"), params={"bucket": "data", "key": "x"}, timeout=30).status_code == 403
    s = server.session()
    # Another site, or another user's server on a sibling subdomain.
    for site in ("cross-site", "same-site"):
        r = s.get(server.url("api/buckets"), headers={"Sec-Fetch-Site": site}, timeout=30)
        assert r.status_code == 403 and r.json()["error"] == "cross_site", site
    assert s.get(server.url("api/buckets"), headers={"Sec-Fetch-Site": "same-origin"}, timeout=30).status_code == 200
    # The whole value is the bucket name: `data/anything` is not the bucket `data`.
    bad = ({"bucket": "../etc", "prefix": ""}, {"bucket": "data/anything"}, {"bucket": "data/", "prefix": "x/"},
           {"bucket": "data", "prefix": "a/../../b/"}, {"bucket": "data", "limit": "100000"})
    for params in bad:
        r = s.get(server.url("api/objects"), params=params, timeout=30)
        assert r.status_code == 400, (params, r.text)
    r = s.get(server.url("api/objects"), params={"bucket": "forbidden"}, timeout=30)
    assert r.status_code == 403 and r.json()["error"] == "access_denied"

    whoami = s.get(server.url("api/whoami"), timeout=30)
    assert whoami.json()["credentials"]["temporary"] is True
    spec = s.get(server.url("api/openapi.json"), timeout=30).json()
    assert spec["openapi"].startswith("3.") and "/api/upload" in spec["paths"]


def test_secrets_never_reach_responses_or_logs(panel):
    server, s3, credentials, workdir = panel
    s = server.session()
    bodies = [s.get(server.url(p), timeout=30).text for p in ("api/whoami", "api/buckets", "api/objects?bucket=forbidden")]
    log = (workdir / "jupyter.log").read_text(errors="replace")
    for secret in (credentials["SecretAccessKey"], credentials["SessionToken"]):
        for text in bodies + [log]:
            assert secret not in text


def test_s3_outage_gives_503_and_the_backend_survives(oidc, tmp_path, quarry_bin):
    with Seaweed(tmp_path / "s3", oidc, user_buckets=("data",)) as s3:
        s3.create_bucket("data")
        credentials = s3.assume_role(oidc.mint("dave"))
        env = server_env({**s3.env_for(credentials), "QUARRY_BIN": quarry_bin})
        server = JupyterServer(env, tmp_path)
        try:
            s = server.session()
            assert s.get(server.url("api/objects"), params={"bucket": "data"}, timeout=60).status_code == 200
            s3.stop()
            r = s.get(server.url("api/objects"), params={"bucket": "data"}, timeout=90)
            assert r.status_code == 503, r.text
            assert "Could not reach S3" in r.json()["message"]
            assert s.get(server.url("api/whoami"), timeout=30).status_code == 200
        finally:
            server.stop()
