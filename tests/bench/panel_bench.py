"""The S3 panel backend vs. direct boto3 against the same SeaweedFS.

Listing: first page and full walk of a 100,000-object prefix. Transfers:
upload and download throughput of a 64 MiB object. Medians, same run,
ratios backend / boto3 (below 1.0 means the backend is faster).
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from boto3.s3.transfer import TransferConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support.oidc import OidcIssuer  # noqa: E402
from support.ports import free_ports, wait_for_port  # noqa: E402
from support.seaweed import ADMIN_KEY, ADMIN_SECRET, Seaweed  # noqa: E402

OBJECTS = 100_000
PAGE = 1000
BLOB = 64 * 1024 * 1024
CHUNK = 8 * 1024 * 1024


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--objects", type=int, default=OBJECTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quarry-panel-bench-"))
    with OidcIssuer() as oidc, Seaweed(work / "s3", oidc) as s3:
        s3.create_bucket("bench")
        admin = s3.admin()
        print(f"creating {args.objects} objects …", flush=True)
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(lambda i: admin.put_object(Bucket="bench", Key=f"many/{i:06d}", Body=b"x"), range(args.objects)))
        (port,) = free_ports(1)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ADMIN_KEY, AWS_SECRET_ACCESS_KEY=ADMIN_SECRET,
                   AWS_ENDPOINT_URL_S3=s3.endpoint, AWS_REGION="us-east-1")
        server = subprocess.Popen([args.quarry, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, what="quarry serve")
            base = f"http://127.0.0.1:{port}/quarry/api"
            http = requests.Session()
            http.cookies.set("_xsrf", "bench", domain="127.0.0.1")
            http.headers["X-XSRFToken"] = "bench"

            def backend_first_page():
                r = http.get(f"{base}/objects", params={"bucket": "bench", "prefix": "many/", "limit": PAGE})
                assert len(r.json()["objects"]) == PAGE

            def boto_first_page():
                r = admin.list_objects_v2(Bucket="bench", Prefix="many/", Delimiter="/", MaxKeys=PAGE)
                assert len(r["Contents"]) == PAGE

            def backend_walk():
                token, n = None, 0
                while True:
                    params = {"bucket": "bench", "prefix": "many/", "limit": PAGE}
                    if token:
                        params["token"] = token
                    page = http.get(f"{base}/objects", params=params).json()
                    n += len(page["objects"])
                    token = page["next_token"]
                    if not token:
                        break
                assert n == args.objects

            def boto_walk():
                n = 0
                for page in admin.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="many/", Delimiter="/", PaginationConfig={"PageSize": PAGE}):
                    n += len(page.get("Contents", []))
                assert n == args.objects

            blob = os.urandom(BLOB)

            def backend_upload():
                upload_id = None
                chunks = [blob[i:i + CHUNK] for i in range(0, BLOB, CHUNK)]
                for n, data in enumerate(chunks, start=1):
                    params = {"bucket": "bench", "key": "blob-backend", "part": n, "last": str(n == len(chunks)).lower()}
                    if upload_id:
                        params["upload_id"] = upload_id
                    r = http.put(f"{base}/upload", params=params, data=data)
                    r.raise_for_status()
                    upload_id = upload_id or r.json().get("upload_id")

            config = TransferConfig(multipart_chunksize=CHUNK, max_concurrency=1)

            def boto_upload():
                admin.upload_fileobj(io.BytesIO(blob), "bench", "blob-boto", Config=config)

            def backend_download():
                r = http.get(f"{base}/download", params={"bucket": "bench", "key": "blob-backend", "mode": "stream"})
                assert len(r.content) == BLOB

            def boto_download():
                assert len(admin.get_object(Bucket="bench", Key="blob-boto")["Body"].read()) == BLOB

            rows = []
            for label, ours, theirs, runs, unit in [
                ("first page (1,000 of 100k)", backend_first_page, boto_first_page, 9, "ms"),
                ("full walk of 100k objects", backend_walk, boto_walk, 3, "s"),
                ("upload 64 MiB", backend_upload, boto_upload, 3, "MiB/s"),
                ("download 64 MiB (stream mode)", backend_download, boto_download, 3, "MiB/s"),
            ]:
                # Alternate so load affects both alike.
                a, b = [], []
                for _ in range(runs):
                    a.append(timed(ours, 1))
                    b.append(timed(theirs, 1))
                ma, mb = statistics.median(a), statistics.median(b)
                rows.append({"metric": label, "backend_s": ma, "boto3_s": mb, "ratio_time": ma / mb, "unit": unit, "runs": runs})
        finally:
            server.terminate()
            server.wait()

    def show(row, t):
        if row["unit"] == "ms":
            return f"{t * 1000:.1f} ms"
        if row["unit"] == "s":
            return f"{t:.2f} s"
        return f"{BLOB / (1 << 20) / t:.0f} MiB/s"

    lines = ["| metric | quarry serve | boto3 direct | time ratio (backend / boto3) |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['metric']} | {show(row, row['backend_s'])} | {show(row, row['boto3_s'])} | {row['ratio_time']:.2f} |")
    note = f"\nMedians over the runs shown in panel.json; SeaweedFS on loopback, {args.objects:,} objects.\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "panel.md").write_text("\n".join(lines) + "\n" + note)
    (out / "panel.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines) + note)


if __name__ == "__main__":
    main()
