"""The result grid over a 10 M-row result: sort + a page, and bytes per page.

A Quarry cell produces a 10 M-row result (id, reading, site); the grid asks
the kernel, over the `quarry.results` comm, for the first page sorted by
`reading` descending, then page 3 of that order, then a filter. Reported
per request: the kernel-side time (the page answer's `elapsed_ms`) and the
round trip seen by a jupyter_client frontend, median of `--runs`; beside
them, the comparator a notebook user would reach for — polars sorting the
same 10 M rows in the kernel process and slicing the same page (the data
already in memory, as the held result is). Bytes: the comm answer per page
against the whole result as the HTML table the kernel would otherwise
have to send (measured for 100,000 rows and scaled, since 10 M rows of
HTML would not fit a notebook).

    python tests/bench/grid_bench.py --quarry target/release/quarry --out target/bench
"""

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from support.kernels import install_kernelspec, run_cell, start_quarry, stop  # noqa: E402

RESULT_MIME = "application/vnd.quarry.result+json"


def query(rows):
    return (
        "SELECT i AS id, ((i * 7919) % 10000019) / 100.0 AS reading, "
        "CASE i % 7 WHEN 0 THEN 'x' WHEN 1 THEN 'north' ELSE 'south' END AS site "
        f"FROM generate_series(1, {rows}) AS t(i)"
    )


class Grid:
    def __init__(self, kc):
        self.kc = kc
        self.comm = uuid.uuid4().hex
        self.seq = 0
        self._send("comm_open", {"comm_id": self.comm, "target_name": "quarry.results", "data": {}})

    def _send(self, kind, content):
        msg = self.kc.session.msg(kind, content)
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def ask(self, result_id, **request):
        self.seq += 1
        started = time.perf_counter()
        self._send("comm_msg", {"comm_id": self.comm, "data": {"request": "page", "result_id": result_id, "seq": self.seq, **request}})
        while True:
            msg = self.kc.get_iopub_msg(timeout=600)
            if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("seq") == self.seq:
                data = msg["content"]["data"]
                assert "page" in data, data
                return time.perf_counter() - started, data


def median_ms(values):
    return round(statistics.median(values) * 1000, 1)


def polars_times(rows, runs):
    import numpy as np
    import polars as pl

    ids = np.arange(1, rows + 1, dtype=np.int64)
    frame = pl.DataFrame({"id": ids, "reading": ((ids * 7919) % 10000019) / 100.0,
                          "site": np.where(ids % 7 == 0, "x", np.where(ids % 7 == 1, "north", "south"))})
    out = {}
    for name, op in {
        # Lazy, so polars' optimizer turns sort + slice into a top-k, as
        # DataFusion does for the grid's ORDER BY … LIMIT.
        "sort desc, page 1": lambda: frame.lazy().sort("reading", descending=True).slice(0, 100).collect(),
        "sort desc, page 3": lambda: frame.lazy().sort("reading", descending=True).slice(200, 100).collect(),
        # The grid also shows how many rows match: count them too.
        "filter site = 'x', page 1": lambda: (
            frame.lazy().filter(pl.col("site") == "x").select(pl.len()).collect(),
            frame.lazy().filter(pl.col("site") == "x").slice(0, 100).collect(),
        ),
    }.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            op()
            times.append(time.perf_counter() - started)
        out[name] = median_ms(times)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    install_kernelspec(args.quarry)
    km, kc = start_quarry(startup_timeout=60)
    try:
        reply, outputs = run_cell(kc, query(args.rows), timeout=1800)
        assert reply["status"] == "ok", reply
        (result,) = [o for o in outputs if o["msg_type"] == "execute_result"]
        bundle = result["content"]["data"][RESULT_MIME]
        assert bundle["result_id"], bundle["note"]
        grid = Grid(kc)
        requests = {
            "sort desc, page 1": {"sort": [{"column": "reading", "descending": True}], "offset": 0, "limit": 100},
            "sort desc, page 3": {"sort": [{"column": "reading", "descending": True}], "offset": 200, "limit": 100},
            "filter site = 'x', page 1": {"filters": [{"column": "site", "op": "=", "value": "x"}], "limit": 100},
        }
        measured = {}
        for name, request in requests.items():
            kernel, trip, size = [], [], 0
            for _ in range(args.runs):
                elapsed, data = grid.ask(bundle["result_id"], **request)
                trip.append(elapsed)
                kernel.append(data["page"]["elapsed_ms"] / 1000)
                size = len(json.dumps(data))
            measured[name] = {"kernel_ms": median_ms(kernel), "round_trip_ms": median_ms(trip), "bytes": size}
        run_cell(kc, "%config max_rows 100000")
        reply, outputs = run_cell(kc, query(100_000), timeout=600)
        (html_result,) = [o for o in outputs if o["msg_type"] == "execute_result"]
        html_bytes = len(html_result["content"]["data"]["text/html"].encode())
    finally:
        stop(km, kc)
    whole_html = html_bytes * args.rows // 100_000
    comparator = polars_times(args.rows, args.runs)
    lines = [
        f"# Result grid: {args.rows:,} rows (median of {args.runs})",
        "",
        "| request | Quarry kernel | round trip | polars in memory | polars / Quarry kernel | bytes sent |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in measured.items():
        ratio = comparator[name] / m["kernel_ms"] if m["kernel_ms"] else float("nan")
        lines.append(
            f"| {name} | {m['kernel_ms']} ms | {m['round_trip_ms']} ms | {comparator[name]} ms | {ratio:.2f}× | {m['bytes']:,} |"
        )
    lines += [
        "",
        f"The whole result as the HTML table: {whole_html:,} bytes "
        f"({html_bytes:,} bytes measured for 100,000 rows, scaled) — "
        f"{whole_html // max(1, measured['sort desc, page 1']['bytes']):,}× one page.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "grid_bench.md").write_text(report)
    (out / "grid_bench.json").write_text(json.dumps({"measured": measured, "polars_ms": comparator, "whole_html_bytes": whole_html}, indent=1))


if __name__ == "__main__":
    main()
