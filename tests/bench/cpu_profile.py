"""Where Quarry's CPU goes, per kind of TPC-H query, with `perf`.

The TPC-H bench says how much of a cache-off query is Quarry's CPU, the S3
server's and waiting; this one opens up Quarry's part. The kernel (S3 cache
off, as a first look at data is) runs each query once to plan and list,
then three times under `perf record`; the samples are put in buckets by
function (decompression, Parquet decoding, copies and allocation,
arithmetic and filters, aggregation, joins, repartitioning, the network
and the operating system). Four queries, one per shape: Q1 scan-aggregate,
Q3 join, Q6 selective scan, Q18 large aggregate and join. The EXPLAIN
ANALYZE of each query is kept beside the report.

Without `perf` on the machine (Debian: `linux-perf`) the report says so and
nothing else is measured.

    python tests/bench/cpu_profile.py --quarry target/release/quarry --out target/bench
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from tpch_bench import QuarryEngine, fmt_ms, generate, queries, tpch_tables_sql, upload_tables  # noqa: E402
from support.kernels import install_kernelspec  # noqa: E402
from support.oidc import OidcIssuer  # noqa: E402
from support.seaweed import Seaweed  # noqa: E402

SHAPES = {1: "scan-aggregate", 3: "join", 6: "selective scan", 18: "large aggregate + join"}
# First match wins: (bucket, pattern over the symbol name).
BUCKETS = [
    ("decompression", r"snap::|lz4|zstd|flate|miniz|brotli"),
    ("Parquet decoding", r"parquet::"),
    ("copies and allocation", r"memmove|memcpy|memset|malloc|_int_free|cfree|realloc|clear_page|page_fault"),
    ("network and OS", r"hyper|reqwest|rustls|tokio::net|mio::|h2::|aws_lc"),
    ("joins", r"joins::"),
    ("aggregation", r"aggregate|group_values|groups_accumulator"),
    ("repartitioning", r"repartition"),
    # Arrow's compute kernels; their inner loops are inlined closures
    # (`try_for_each`, `try_unary`): decimal arithmetic with overflow checks.
    ("arithmetic, filters, casts", r"arrow_arith|arrow_select|arrow_ord|arrow_cast|arrow_string|try_binary|try_unary|"
                                   r"try_for_each|primitive_array|cmp::|BinaryExpr"),
    ("hashing", r"hash_utils|ahash|hashbrown"),
]


def buckets_of(report_text):
    """Percent of samples per bucket, from `perf report --sort symbol`."""
    totals = {name: 0.0 for name, _ in BUCKETS}
    totals["other"] = 0.0
    for line in report_text.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\[[.k]\])\s+(.*)", line)
        if not match:
            continue
        percent, kind, symbol = float(match.group(1)), match.group(2), match.group(3).strip()
        if kind == "[k]":  # the kernel: sockets, page faults, scheduling
            name = "network and OS"
        else:
            name = next((n for n, pattern in BUCKETS if re.search(pattern, symbol)), "other")
        totals[name] += percent
    return totals


def profile(engine, sql, data_file):
    pid = engine.kernel.km.provisioner.process.pid
    perf = subprocess.Popen(["perf", "record", "-F", "999", "-p", str(pid), "-o", str(data_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf attaches
    times = [engine.query(sql)[0] for _ in range(3)]
    perf.send_signal(2)
    perf.wait()
    text = subprocess.run(["perf", "report", "-i", str(data_file), "--no-children", "--sort", "symbol",
                           "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    return sorted(times)[1], buckets_of(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Where Quarry's CPU goes (TPC-H sf1, S3 cache off, `perf` samples of the kernel)", ""]
    if not shutil.which("perf"):
        lines.append("`perf` is not installed on this machine (Debian: `linux-perf`): not measured.")
        (out / "cpu_profile.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return
    install_kernelspec(args.quarry)
    local = generate(1)
    sql = queries(SHAPES)
    results = {}
    with tempfile.TemporaryDirectory(prefix="quarry-profile-") as work, OidcIssuer() as oidc, \
            Seaweed(Path(work) / "s3", oidc) as s3:
        env = upload_tables(s3, local)
        engine = QuarryEngine("quarry-s3", env, tpch_tables_sql())
        try:
            for n in SHAPES:
                engine.query(sql[n])  # planned, listed, footers read
                results[n] = profile(engine, sql[n], Path(work) / f"q{n}.perf")
                _, reply, outputs = engine.kernel.run("EXPLAIN ANALYZE " + sql[n])
                plans = [m["content"]["data"].get("text/plain", "") for m in outputs
                         if m["msg_type"] == "execute_result"]
                (out / f"cpu_profile_q{n}_explain.txt").write_text("\n".join(plans) + "\n")
                print(f"Q{n}: {fmt_ms(results[n][0])} ms", file=sys.stderr)
        finally:
            engine.stop()
    names = [name for name, _ in BUCKETS] + ["other"]
    lines += ["Share of the kernel's CPU samples over 3 runs per query (median wall time shown):", "",
              "| query | shape | wall ms | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for n, (seconds, share) in results.items():
        lines.append(f"| Q{n} | {SHAPES[n]} | {fmt_ms(seconds)} | " + " | ".join(f"{share[b]:.0f} %" for b in names) + " |")
    (out / "cpu_profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
