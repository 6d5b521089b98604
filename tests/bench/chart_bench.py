"""Cell to chart: Quarry's `%chart` vs. the Python way, over TPC-H lineitem in S3.

Two charts a user draws first — a histogram of `l_extendedprice` and a
weekly line of `sum(l_quantity)` over `l_shipdate` — over TPC-H `lineitem`
(sf1: 6 M rows) as Parquet in a local SeaweedFS:

* Quarry: a `%chart` cell in the Quarry kernel; DataFusion bins and
  aggregates every row and the spec carries only the bins.
* The Python way: an ipykernel cell with polars reading the same object
  (lazy scan, the aggregation done in polars — Altair refuses more than
  5,000 rows) and Altair building the chart from the aggregated frame.

Both compute the same bins (Quarry's step, read from its spec) so the
charts match. The engines alternate run by run on the 2-core machine;
"cold" is the first run (Quarry's byte cache emptied), "warm" the median
of the next `--runs`. Reported: seconds, the Python/Quarry ratio, and the
bytes each puts into the notebook (the display message's data).

    python tests/bench/chart_bench.py --quarry target/release/quarry --out target/bench
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from support.kernels import install_kernelspec  # noqa: E402
from support.oidc import OidcIssuer  # noqa: E402
from support.seaweed import ADMIN_KEY, ADMIN_SECRET, Seaweed  # noqa: E402
from tpch_bench import Kernel, error_text, generate  # noqa: E402

BUCKET = "tpch"
VEGA = "application/vnd.vegalite.v5+json"
CHARTS = {
    "histogram": "%chart hist x=l_extendedprice\nSELECT l_extendedprice FROM lineitem",
    "weekly line": "%chart line x=l_shipdate y=sum(l_quantity)\nSELECT l_shipdate, l_quantity FROM lineitem",
}
PYTHON_SETUP = r'''
import altair as alt, polars as pl
# The Vega-Lite MIME bundle JupyterLab renders (Altair's notebook default).
alt.renderers.enable("mimetype")
opts = {{"aws_access_key_id": "{key}", "aws_secret_access_key": "{secret}", "aws_endpoint_url": "{endpoint}",
        "aws_region": "us-east-1", "aws_allow_http": "true"}}
def lineitem():
    return pl.scan_parquet("s3://{bucket}/lineitem.parquet", storage_options=opts)
'''
PYTHON = {
    "histogram": r'''
step = {step}
bins = (lineitem().select(((pl.col("l_extendedprice") / step).floor() * step).alias("x"))
        .group_by("x").agg(pl.len().alias("count")).with_columns((pl.col("x") + step).alias("x_end")).collect())
alt.Chart(bins).mark_bar().encode(alt.X("x:Q", bin="binned"), x2="x_end:Q", y="count:Q")
''',
    "weekly line": r'''
weeks = (lineitem().select(pl.col("l_shipdate").dt.truncate("1w").alias("x"), pl.col("l_quantity").cast(pl.Float64))
         .group_by("x").agg(pl.col("l_quantity").sum().alias("value")).sort("x").collect())
alt.Chart(weeks).mark_line().encode(x="x:T", y="value:Q")
''',
}


def shown(outputs):
    """The chart's bundle and its size in the notebook (bytes of JSON)."""
    for m in outputs:
        if m["msg_type"] in ("execute_result", "display_data") and VEGA in m["content"]["data"]:
            data = m["content"]["data"]
            return data, len(json.dumps(data))
    raise AssertionError(f"no chart in {[m['msg_type'] for m in outputs]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    install_kernelspec(args.quarry)
    local = generate(args.scale)
    with tempfile.TemporaryDirectory(prefix="quarry-chart-") as work, OidcIssuer() as oidc, \
            Seaweed(Path(work) / "s3", oidc) as s3:
        s3.create_bucket(BUCKET)
        s3.admin().upload_file(str(local / "lineitem.parquet"), BUCKET, "lineitem.parquet")
        env = {"AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
               "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_REGION": "us-east-1"}
        fmt = {"bucket": BUCKET, "key": ADMIN_KEY, "secret": ADMIN_SECRET, "endpoint": s3.endpoint}
        quarry, python = Kernel("quarry", env), Kernel("python3", env)
        try:
            _, reply, outputs = quarry.run(f"CREATE EXTERNAL TABLE lineitem STORED AS PARQUET LOCATION 's3://{BUCKET}/lineitem.parquet'")
            assert reply["status"] == "ok", error_text(reply, outputs)
            _, reply, outputs = python.run(PYTHON_SETUP.format(**fmt))
            assert reply["status"] == "ok", error_text(reply, outputs)
            report = {name: measure(quarry, python, name, args.runs) for name in CHARTS}
        finally:
            quarry.stop()
            python.stop()
    write_report(out, report, args)


def measure(quarry, python, name, runs):
    times = {"quarry": [], "python": []}
    sizes = {}
    code = {"quarry": CHARTS[name]}
    for run in range(runs + 1):
        for engine, kernel in (("quarry", quarry), ("python", python)):
            if engine == "quarry" and run == 0:
                quarry.run("%config s3_cache clear")
            seconds, reply, outputs = kernel.run(code.get(engine, ""))
            assert reply["status"] == "ok", (engine, name, error_text(reply, outputs))
            data, size = shown(outputs)
            times[engine].append(seconds)
            sizes[engine] = size
            if engine == "quarry" and "python" not in code:
                step = data[VEGA].get("encoding", {}).get("x", {}).get("bin", {}).get("step", 1)
                code["python"] = PYTHON[name].format(step=step)
    result = {}
    for engine, series in times.items():
        result[engine] = {"cold": series[0], "warm": statistics.median(series[1:]), "bytes": sizes[engine]}
    result["ratio_cold"] = result["python"]["cold"] / result["quarry"]["cold"]
    result["ratio_warm"] = result["python"]["warm"] / result["quarry"]["warm"]
    print(f"{name}: {json.dumps(result)}", file=sys.stderr)
    return result


def write_report(out, report, args):
    lines = [
        f"# Cell to chart over TPC-H sf{args.scale} lineitem in SeaweedFS ({args.runs} warm runs, median)",
        "",
        "| chart | Quarry cold | polars+Altair cold | ratio | Quarry warm | polars+Altair warm | ratio | Quarry output | polars+Altair output |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report.items():
        q, p = r["quarry"], r["python"]
        lines.append(
            f"| {name} | {q['cold']:.2f} s | {p['cold']:.2f} s | {r['ratio_cold']:.2f}× | {q['warm']:.2f} s | "
            f"{p['warm']:.2f} s | {r['ratio_warm']:.2f}× | {q['bytes']:,} B | {p['bytes']:,} B |"
        )
    lines += ["", "Ratio: polars+Altair time / Quarry time (above 1: Quarry is faster)."]
    (out / "chart_bench.md").write_text("\n".join(lines) + "\n")
    (out / "chart_bench.json").write_text(json.dumps(report, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
