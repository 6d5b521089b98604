"""How cost grows with data: TPC-H Q1, Q3, Q6 and Q18 at scale factors 0.1,
1, 3 and 10 over S3, Quarry vs polars, time and peak memory.

Each scale factor's Parquet (from `tpchgen-cli`) goes into its own bucket
of one SeaweedFS. Quarry runs with its S3 cache off (it reads S3 every
time, as polars does); at the largest scale it runs a second time with a
pod-sized memory limit (`QUARRY_MEMORY_LIMIT=2g`), where sorts, joins and
aggregations must spill to finish — or fail in one sentence, never be
killed. Peak RSS is the kernel process's resident memory, sampled every
20 ms while the query runs. Answers are compared with polars'.

    python tests/bench/scaling_bench.py --quarry target/release/quarry --out target/bench
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from tpch_bench import (  # noqa: E402
    QUARRY, SETUP, TABLES, KernelDied, PythonEngine, QuarryEngine, fmt_ms, generate, queries, same_answer,
)
from support.kernels import install_kernelspec  # noqa: E402
from support.oidc import OidcIssuer  # noqa: E402
from support.processes import rss_mib  # noqa: E402
from support.seaweed import ADMIN_KEY, ADMIN_SECRET, Seaweed  # noqa: E402

QUERIES = [1, 3, 6, 18]
POD_LIMIT = "2g"
QUARRY["quarry-limited"] = {"QUARRY_S3_CACHE": "0", "QUARRY_MEMORY_LIMIT": POD_LIMIT}


def bucket_for(scale):
    return f"tpch-sf{scale:g}".replace(".", "p")


class PeakRss:
    """The highest resident memory of `pid` while the block runs."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            value = rss_mib(self.pid)
            if value == value:  # not NaN
                self.peak = max(self.peak, value)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def kernel_pid(engine):
    return engine.kernel.km.provisioner.process.pid


def run_scale(scale, s3, env, fmt, engines_wanted, runs, sql):
    bucket = bucket_for(scale)
    setup = ";\n".join(f"CREATE EXTERNAL TABLE {t} STORED AS PARQUET LOCATION 's3://{bucket}/{t}.parquet'"
                       for t in TABLES)
    results = {}
    for name in engines_wanted:
        engine = (QuarryEngine(name, env, setup) if name in QUARRY
                  else PythonEngine(name, env, SETUP[name].format(**{**fmt, "bucket": bucket})))
        try:
            for n in QUERIES:
                times, peak, answer, error = [], 0.0, None, None
                for _ in range(runs):
                    with PeakRss(kernel_pid(engine)) as rss:
                        try:
                            seconds, got, error = engine.query(sql[n])
                        except KernelDied as died:
                            seconds, got, error = None, None, str(died)
                    peak = max(peak, rss.peak)
                    if error:
                        break
                    times.append(seconds)
                    answer = answer or got
                # A query that fails must leave the kernel answering.
                alive = (engine.kernel.km.is_alive() and engine.query("SELECT 1")[2] is None) if error else True
                if not alive:
                    break
                results.setdefault(n, {})[name] = {
                    "seconds": statistics.median(times) if times else None,
                    "peak_rss_mib": peak, "answer": answer, "error": error, "alive": alive,
                }
                print(f"sf{scale:g} Q{n} {name}: {fmt_ms(results[n][name]['seconds'])} ms, {peak:.0f} MiB"
                      + (f" ({error[:120]})" if error else ""), file=sys.stderr)
        finally:
            engine.stop()
    return results


def report(results, runs, largest):
    lines = [
        "# TPC-H over S3 as data grows: Quarry (S3 cache off) vs polars",
        "",
        f"Median of {runs} runs per query (the first included: nothing is cached), ms; peak RSS of the",
        f"kernel process while the query ran, MiB. `quarry, {POD_LIMIT}` is Quarry with",
        f"`QUARRY_MEMORY_LIMIT={POD_LIMIT}` (its pool is 60 % of that) at sf{largest:g}.",
        "",
        "| sf | query | quarry ms | polars ms | quarry ÷ polars | quarry MiB | polars MiB | "
        f"quarry, {POD_LIMIT} ms | quarry, {POD_LIMIT} MiB | answers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale, by_query in results.items():
        for n, r in by_query.items():
            q, p, lim = r.get("quarry-s3", {}), r.get("polars", {}), r.get("quarry-limited")
            ratio = q["seconds"] / p["seconds"] if q.get("seconds") and p.get("seconds") else None

            def shown(e):
                if e is None:
                    return "–"
                if not e["error"]:
                    return fmt_ms(e["seconds"])
                return e["error"].splitlines()[0][:120] + (" (kernel alive)" if e["alive"] else " (KERNEL GONE)")
            answers = [e for e in ("quarry-s3", "quarry-limited") if r.get(e) and r[e]["answer"]]
            agree = all(same_answer(r[e]["answer"], p.get("answer")) for e in answers) if p.get("answer") else None
            lines.append("| " + " | ".join([
                f"{scale:g}", f"Q{n}", shown(q), shown(p), "–" if ratio is None else f"{ratio:.2f}",
                f"{q.get('peak_rss_mib', 0):.0f}", f"{p.get('peak_rss_mib', 0):.0f}",
                shown(lim) if lim else "", f"{lim['peak_rss_mib']:.0f}" if lim else "",
                {True: "agree", False: "differ", None: "–"}[agree],
            ]) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scales", default="0.1,1,3,10")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    install_kernelspec(args.quarry)
    sql = queries(QUERIES)
    results = {}
    with tempfile.TemporaryDirectory(prefix="quarry-scaling-") as work, OidcIssuer() as oidc, \
            Seaweed(Path(work) / "s3", oidc) as s3:
        admin = s3.admin()
        env = {"AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
               "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_REGION": "us-east-1"}
        fmt = {"key": ADMIN_KEY, "secret": ADMIN_SECRET, "endpoint": s3.endpoint, "tables": TABLES, "local": ""}
        for scale in scales:
            local = generate(scale)
            s3.create_bucket(bucket_for(scale))
            for t in TABLES:
                admin.upload_file(str(local / f"{t}.parquet"), bucket_for(scale), f"{t}.parquet")
            engines = ["quarry-s3", "polars"] + (["quarry-limited"] if scale == max(scales) else [])
            results[scale] = run_scale(scale, s3, env, fmt, engines, args.runs, sql)
            for t in TABLES:  # keep the server's disk to one scale at a time
                admin.delete_object(Bucket=bucket_for(scale), Key=f"{t}.parquet")
    lines = report(results, args.runs, max(scales))
    (out / "scaling.md").write_text("\n".join(lines) + "\n")
    (out / "scaling.json").write_text(json.dumps({f"{k:g}": v for k, v in results.items()}, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
