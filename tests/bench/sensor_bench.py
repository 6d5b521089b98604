"""Sensor-style data over S3, Parquet and CSV: Quarry vs datafusion-python
and polars, the first query and the repeated one.

8 files of 1 M readings each (timestamp, site, sensor, reading), once as
Parquet and once as CSV (the format seed data arrives in), in a local
SeaweedFS. Quarry's kernel signs with temporary STS keys from a web
identity, as in a notebook pod; the peers use the admin keys.

Per query and format: "first" is the query's first run in that kernel
(Quarry's cache emptied just before, so it reads S3 like the peers),
"repeated" the median of the following runs. `quarry` keeps what it read
(bytes of Parquet, decoded CSV) for the next query; `quarry-s3` has that
cache off. Answers are compared across engines.

    python tests/bench/sensor_bench.py --quarry target/release/quarry --out target/bench
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from tpch_bench import QUARRY, PythonEngine, QuarryEngine, fmt_ms, geomean, same_answer  # noqa: E402
from support.kernels import install_kernelspec  # noqa: E402
from support.oidc import OidcIssuer  # noqa: E402
from support.seaweed import ADMIN_KEY, ADMIN_SECRET, Seaweed  # noqa: E402

BUCKET = "sensor"
FILES = 8
ROWS_PER_FILE = 1_000_000
ENGINES = ["quarry", "quarry-s3", "datafusion", "polars"]
QUERIES = {
    "scan-aggregate": "SELECT site, avg(reading) AS mean, count(*) AS n FROM readings GROUP BY site ORDER BY site",
    "join": "SELECT s.region, count(*) AS n, max(r.reading) AS top FROM readings r JOIN sites s ON r.site = s.site "
            "GROUP BY s.region ORDER BY s.region",
    "hourly group-by": "SELECT date_trunc('hour', at) AS hour, avg(reading) AS mean FROM readings "
                       "GROUP BY date_trunc('hour', at) ORDER BY hour LIMIT 24",
    "top-10": "SELECT sensor, reading FROM readings ORDER BY reading DESC, sensor LIMIT 10",
    "selective count": "SELECT count(*) AS n FROM readings WHERE reading > 99.9",
}
SITES = [f"site{i:02d}" for i in range(40)]

PEER_SETUP = {
    "datafusion": r'''
import datafusion
from datafusion.object_store import AmazonS3
ctx = datafusion.SessionContext()
ctx.register_object_store("s3://", AmazonS3(bucket_name="{bucket}", region="us-east-1",
    access_key_id="{key}", secret_access_key="{secret}", endpoint="{endpoint}", allow_http=True), "{bucket}")
if "{fmt}" == "parquet":
    ctx.register_parquet("readings", "s3://{bucket}/parquet/")
else:
    ctx.register_csv("readings", "s3://{bucket}/csv/", file_extension=".csv")
ctx.register_csv("sites", "s3://{bucket}/sites.csv")
def run(q):
    return summary(ctx.sql(q).to_arrow_table())
''',
    "polars": r'''
import polars as pl
opts = {{"aws_access_key_id": "{key}", "aws_secret_access_key": "{secret}", "aws_endpoint_url": "{endpoint}",
        "aws_region": "us-east-1", "aws_allow_http": "true"}}
if "{fmt}" == "parquet":
    readings = pl.scan_parquet("s3://{bucket}/parquet/*.parquet", storage_options=opts)
else:
    readings = pl.scan_csv("s3://{bucket}/csv/*.csv", storage_options=opts, try_parse_dates=True)
sites = pl.scan_csv("s3://{bucket}/sites.csv", storage_options=opts)
ctx = pl.SQLContext(readings=readings, sites=sites)
def run(q):
    return summary(ctx.execute(q).collect().to_arrow())
''',
}


def readings(part):
    """One file's readings: a reading a minute per sensor, 400 sensors on 40 sites."""
    ids = pa.array(range(part * ROWS_PER_FILE, (part + 1) * ROWS_PER_FILE), pa.int64())
    sensor = pc.remainder(ids, 400)
    return pa.table({
        "at": pc.cast(pc.add(pc.multiply(pc.divide(ids, 400), 60), 1_700_000_000), pa.timestamp("s")),
        "site": pc.take(pa.array(SITES), pc.divide(sensor, 10)),
        "sensor": sensor,
        "reading": pc.divide(pc.cast(pc.remainder(pc.multiply(ids, 7919), 10007), pa.float64()), 100.0),
    })


def upload(s3, work):
    admin = s3.admin()
    for part in range(FILES):
        table = readings(part)
        pq.write_table(table, work / "r.parquet")
        admin.upload_file(str(work / "r.parquet"), BUCKET, f"parquet/part-{part}.parquet")
        pacsv.write_csv(table, work / "r.csv")
        admin.upload_file(str(work / "r.csv"), BUCKET, f"csv/part-{part}.csv")
    sites = "site,region\n" + "".join(f"{s},region{i % 5}\n" for i, s in enumerate(SITES))
    admin.put_object(Bucket=BUCKET, Key="sites.csv", Body=sites.encode())


def quarry_setup(fmt):
    stored = "PARQUET" if fmt == "parquet" else "CSV"
    options = "" if fmt == "parquet" else " OPTIONS ('format.has_header' 'true')"
    return (f"CREATE EXTERNAL TABLE readings STORED AS {stored} LOCATION 's3://{BUCKET}/{fmt}/'{options};\n"
            f"CREATE EXTERNAL TABLE sites STORED AS CSV LOCATION 's3://{BUCKET}/sites.csv' "
            "OPTIONS ('format.has_header' 'true')")


def measure(engines, runs):
    """First and repeated times, and the first answers, per query."""
    results = {}
    for name, sql in QUERIES.items():
        r = {"first": {}, "repeated": {}, "answers": {}, "errors": {}}
        for engine, e in engines.items():
            e.forget()
            seconds, answer, error = e.query(sql)
            r["first"][engine], r["answers"][engine] = seconds, answer
            if error:
                r["errors"][engine] = error
        times = {engine: [] for engine in engines}
        for _ in range(runs):
            for engine, e in engines.items():
                if engine not in r["errors"]:
                    times[engine].append(e.query(sql)[0])
        r["repeated"] = {k: statistics.median(v) for k, v in times.items() if v}
        reference = next((a for a in (r["answers"].get(p) for p in ("datafusion", "polars", *engines)) if a), None)
        r["agree"] = {engine: same_answer(a, reference) for engine, a in r["answers"].items()}
        print(f"{name}: " + " ".join(f"{k}={fmt_ms(v)}/{fmt_ms(r['repeated'].get(k))}ms"
                                     for k, v in r["first"].items()), file=sys.stderr)
        results[name] = r
    return results


def report(results, runs):
    peers = [e for e in ENGINES if e not in QUARRY]
    lines = [
        f"# Sensor-style data over S3 ({FILES} files × {ROWS_PER_FILE:,} rows), first run and median of {runs} repeats",
        "",
        "Times in ms (kernel round trip). `quarry` keeps what it read (Parquet bytes, decoded CSV) for the",
        "next query, emptied before each first run; `quarry-s3` has that cache off. The ratio is Quarry's",
        "time ÷ the best peer's for the same run (first or repeated); < 1 means Quarry is faster.",
        "",
        "| format | query | " + " | ".join(f"{e} first | {e} repeated" for e in ENGINES)
        + " | quarry ÷ best, first | quarry ÷ best, repeated | answers |",
        "|" + "---|" * (3 + 2 * len(ENGINES) + 2),
    ]
    ratios = {}
    for fmt, by_query in results.items():
        for name, r in by_query.items():
            cells = [fmt, name]
            for e in ENGINES:
                cells += [fmt_ms(r["first"].get(e)) if e not in r["errors"] else "error", fmt_ms(r["repeated"].get(e))]
            for run in ("first", "repeated"):
                best = min((r[run][p] for p in peers if p in r[run] and p not in r["errors"]), default=None)
                value = r[run].get("quarry") / best if best and r[run].get("quarry") else None
                ratios.setdefault((fmt, run), []).append(value)
                cells.append("–" if value is None else f"{value:.2f}")
            differ = [e for e, ok in r["agree"].items() if not ok and e not in r["errors"]]
            cells.append("agree" if not differ else "differ: " + ",".join(differ))
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Geometric means of quarry ÷ best peer:", "", "| format | first | repeated |", "|---|---|---|"]
    for fmt in results:
        lines.append(f"| {fmt} | {geomean(ratios[(fmt, 'first')]):.2f} | {geomean(ratios[(fmt, 'repeated')]):.2f} |")
    errors = [(fmt, q, e, msg) for fmt, rs in results.items() for q, r in rs.items() for e, msg in r["errors"].items()]
    if errors:
        lines += ["", "Errors (first line):", ""] + [f"- {fmt} {q} {e}: {m.splitlines()[0][:200]}" for fmt, q, e, m in errors]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=5, help="repeated runs per query (after the first)")
    parser.add_argument("--formats", default="parquet,csv")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    install_kernelspec(args.quarry)
    results = {}
    with tempfile.TemporaryDirectory(prefix="quarry-sensor-") as work, OidcIssuer() as oidc, \
            Seaweed(Path(work) / "s3", oidc, user_buckets=(BUCKET,)) as s3:
        s3.create_bucket(BUCKET)
        upload(s3, Path(work))
        sts_env = s3.env_for(s3.assume_role(oidc.mint("bench")))
        admin_env = {"AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
                     "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_REGION": "us-east-1"}
        fmt_args = {"bucket": BUCKET, "key": ADMIN_KEY, "secret": ADMIN_SECRET, "endpoint": s3.endpoint}
        for fmt in args.formats.split(","):
            engines = {}
            try:
                for name in ENGINES:
                    if name in QUARRY:
                        engines[name] = QuarryEngine(name, sts_env, quarry_setup(fmt))
                    else:
                        engines[name] = PythonEngine(name, admin_env, PEER_SETUP[name].format(fmt=fmt, **fmt_args))
                results[fmt] = measure(engines, args.runs)
            finally:
                for e in engines.values():
                    e.stop()
    lines = report(results, args.runs)
    (out / "sensor.md").write_text("\n".join(lines) + "\n")
    (out / "sensor.json").write_text(json.dumps(results, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
