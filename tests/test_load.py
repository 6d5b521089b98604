"""A bounded load test on loopback: eight kernels of one pod at once, each
running a mixed SQL workload over S3 (SeaweedFS with STS credentials) and
paging its grid, while the panel backend serves listings and uploads — for
`QUARRY_LOAD_SECONDS` (default 120). Nothing that should succeed fails, no
kernel dies, and the pod's memory (the sum of every kernel's and the
backend's RSS, sampled twice a second) stays within the pod's limit, the
kernels sharing one budget of 60 % of it. p50/p95 latency per query type,
eight kernels against one alone, go to tests/artifacts/load.md."""

import io
import os
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests

from support.kernels import minimal_env, run_cell, start_quarry, stop, text_of
from support.ports import free_ports, wait_for_port
from support.processes import stop_process
from support.seaweed import Seaweed

SECONDS = float(os.environ.get("QUARRY_LOAD_SECONDS", "120"))
KERNELS = 8
POD_LIMIT = 3 << 30  # the pod's memory limit; the kernels' budget is 60 % of it
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
XSRF = "load-xsrf"
QUERIES = {
    "scan-aggregate": "SELECT site, avg(reading) AS mean, count(*) AS n FROM readings GROUP BY site",
    "hourly group-by": "SELECT date_trunc('hour', at) AS hour, avg(reading) AS mean FROM readings GROUP BY hour ORDER BY hour LIMIT 5",
    "top-10": "SELECT * FROM readings ORDER BY reading DESC LIMIT 10",
    "selective count": "SELECT count(*) AS n FROM readings WHERE reading > 99.5",
}


def readings(rows=1_000_000):
    ids = pa.array(range(rows), pa.int64())
    return pa.table({
        "at": pc.cast(pc.add(pc.multiply(ids, 60), 1_700_000_000), pa.timestamp("s")),
        "site": pc.take(pa.array(["north", "south", "east", "west"]), pc.remainder(ids, 4)),
        "reading": pc.divide(pc.cast(pc.remainder(pc.multiply(ids, 7919), 10007), pa.float64()), 100.0),
    })


def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Worker(threading.Thread):
    """One kernel running the workload round-robin until `stop_at`."""

    def __init__(self, km, kc, stop_at):
        super().__init__(daemon=True)
        self.km, self.kc, self.stop_at = km, kc, stop_at
        self.latencies = {name: [] for name in [*QUERIES, "grid page"]}
        self.failures = []

    def run(self):
        try:
            reply, outputs = run_cell(self.kc, "SELECT * FROM readings", timeout=300)
            result_id = [o for o in outputs if o["msg_type"] == "execute_result"][0]["content"]["data"][
                "application/vnd.quarry.result+json"]["result_id"]
            comm = uuid.uuid4().hex
            self.kc.shell_channel.send(self.kc.session.msg("comm_open", {"comm_id": comm, "target_name": "quarry.results", "data": {}}))
            seq = 0
            while time.monotonic() < self.stop_at:
                for name, sql in QUERIES.items():
                    started = time.monotonic()
                    reply, _ = run_cell(self.kc, sql, timeout=300)
                    self.record(name, started, reply["status"] == "ok", reply)
                seq += 1
                started = time.monotonic()
                self.kc.shell_channel.send(self.kc.session.msg("comm_msg", {"comm_id": comm, "data": {
                    "request": "page", "result_id": result_id, "seq": seq,
                    "sort": [{"column": "reading", "descending": seq % 2 == 0}], "offset": 100 * (seq % 5), "limit": 100}}))
                while True:
                    msg = self.kc.get_iopub_msg(timeout=300)
                    if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("seq") == seq:
                        break
                self.record("grid page", started, "page" in msg["content"]["data"], msg["content"]["data"])
        except Exception as e:  # a dead or hung kernel ends up here
            self.failures.append(f"{type(e).__name__}: {e}")

    def record(self, name, started, ok, detail):
        self.latencies[name].append(time.monotonic() - started)
        if not ok:
            self.failures.append(f"{name}: {str(detail)[:300]}")


class PanelLoad(threading.Thread):
    """Listings, whoami and a 12 MiB chunked upload, over and over."""

    def __init__(self, base, stop_at):
        super().__init__(daemon=True)
        self.base, self.stop_at = base, stop_at
        self.requests, self.failures = 0, []

    def run(self):
        s = requests.Session()
        s.headers["X-XSRFToken"] = XSRF
        s.cookies.set("_xsrf", XSRF)
        payload = os.urandom(6 << 20)
        n = 0
        while time.monotonic() < self.stop_at:
            n += 1
            for route, params in (("api/objects", {"bucket": "data", "prefix": "load/"}), ("api/whoami", {})):
                self.check(s.get(f"{self.base}/{route}", params=params, timeout=120))
            upload_id = None
            for part, last in ((1, False), (2, True)):
                params = {"bucket": "data", "key": f"load/up/{n}.bin", "part": part, "last": str(last).lower()}
                if upload_id:
                    params["upload_id"] = upload_id
                r = s.put(f"{self.base}/api/upload", params=params, data=payload, timeout=120)
                self.check(r)
                upload_id = upload_id or r.json().get("upload_id")

    def check(self, response):
        self.requests += 1
        if response.status_code != 200:
            self.failures.append(f"{response.request.method} {response.url}: {response.status_code} {response.text[:200]}")


def percentiles(values):
    values = sorted(values)
    if not values:
        return (float("nan"), float("nan"))
    return (statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.95))])


def run_load(kernels, seconds, server=None):
    stop_at = time.monotonic() + seconds
    workers = [Worker(km, kc, stop_at) for km, kc in kernels]
    panel = PanelLoad(server[0], stop_at) if server else None
    pids = [km.provisioner.pid for km, _ in kernels] + ([server[1]] if server else [])
    peak = 0
    for thread in workers + ([panel] if panel else []):
        thread.start()
    while any(w.is_alive() for w in workers):
        peak = max(peak, sum(rss(pid) for pid in pids))
        time.sleep(0.5)
    if panel:
        panel.join(timeout=300)
    return workers, panel, peak


@pytest.fixture(scope="module")
def load_s3(oidc, tmp_path_factory):
    with Seaweed(tmp_path_factory.mktemp("load"), oidc, user_buckets=("data",)) as s3:
        s3.create_bucket("data")
        body = io.BytesIO()
        pq.write_table(readings(), body, row_group_size=125_000)
        s3.admin().put_object(Bucket="data", Key="load/readings.parquet", Body=body.getvalue())
        yield s3, s3.assume_role(oidc.mint("lou"))


def start_pod_kernels(s3, credentials, count, pod_dir):
    env = {**s3.env_for(credentials), "QUARRY_POD_DIR": str(pod_dir), "QUARRY_MEMORY_LIMIT": str(int(POD_LIMIT * 0.6))}
    kernels = [start_quarry(env=env) for _ in range(count)]
    for _, kc in kernels:
        reply, _ = run_cell(kc, "CREATE EXTERNAL TABLE readings STORED AS PARQUET LOCATION 's3://data/load/readings.parquet'")
        assert reply["status"] == "ok", reply
    return kernels


def test_eight_kernels_and_the_panel_under_load(load_s3, tmp_path, quarry_bin):
    s3, credentials = load_s3
    alone = start_pod_kernels(s3, credentials, 1, tmp_path / "pod-alone")
    try:
        single, _, _ = run_load(alone, max(20.0, SECONDS / 4))
    finally:
        for km, kc in alone:
            stop(km, kc)
    assert not single[0].failures, single[0].failures

    (port,) = free_ports(1)
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([quarry_bin, "serve", "--port", str(port)], env=minimal_env(s3.env_for(credentials)),
                              stdout=log, stderr=subprocess.STDOUT)
    kernels = start_pod_kernels(s3, credentials, KERNELS, tmp_path / "pod")
    try:
        wait_for_port(port, timeout=30, process=server, what="quarry serve")
        workers, panel, peak = run_load(kernels, SECONDS, (f"http://127.0.0.1:{port}", server.pid))
        failures = [f for w in workers for f in w.failures] + panel.failures
        assert not failures, failures[:5]
        assert all(km.is_alive() for km, _ in kernels), "no kernel died"
        assert server.poll() is None, "the panel backend is up"
        assert panel.requests > 0
        assert peak <= POD_LIMIT, f"the pod's RSS peaked at {peak / 2**20:.0f} MiB, over {POD_LIMIT / 2**20:.0f} MiB"
        # Every kernel saw the pod's sharing.
        reply, outputs = run_cell(kernels[0][1], "%config")
        assert f"shared by {KERNELS} kernels in this pod" in text_of(outputs)
    finally:
        for km, kc in kernels:
            stop(km, kc)
        stop_process(server)
        log.close()

    lines = [f"# Load: {KERNELS} kernels of one pod for {SECONDS:.0f} s vs one alone (2-core machine, loopback)", "",
             f"Pod RSS peak: {peak / 2**20:.0f} MiB of {POD_LIMIT / 2**20:.0f} MiB; panel requests: {panel.requests}.", "",
             "| query | alone p50 | alone p95 | 8 kernels p50 | 8 kernels p95 | p50 ratio | runs (8 kernels) |",
             "|---|---|---|---|---|---|---|"]
    for name in single[0].latencies:
        a50, a95 = percentiles(single[0].latencies[name])
        all_runs = [v for w in workers for v in w.latencies[name]]
        l50, l95 = percentiles(all_runs)
        lines.append(f"| {name} | {a50 * 1000:.0f} ms | {a95 * 1000:.0f} ms | {l50 * 1000:.0f} ms | {l95 * 1000:.0f} ms | "
                     f"{l50 / a50:.1f}× | {len(all_runs)} |")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
