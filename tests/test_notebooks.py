"""The demo notebook, executed headlessly with nbclient against S3 holding
the same demo data `quarry lab` generates."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from support.kernels import minimal_env, run_cell, start_quarry, stop
from support.spark import spark_home

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_data(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("demo-writer"))
    env = seaweed.env_for(credentials)
    km, kc = start_quarry(env=env)
    try:
        sql = (ROOT / "notebooks" / "demo-data.sql").read_text()
        reply, _ = run_cell(kc, sql, timeout=300)
        assert reply["status"] == "ok", reply
    finally:
        stop(km, kc)
    return env


def test_demo_notebook_runs_and_answers_correctly(demo_data, monkeypatch):
    nb = nbformat.read(ROOT / "notebooks" / "quarry-demo.ipynb", as_version=4)
    for key, value in minimal_env(demo_data).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SPARK_HOME", spark_home())
    client = NotebookClient(nb, kernel_name="quarry", timeout=300, allow_errors=False)
    client.execute()

    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    assert all(len(o) >= 1 for o in outputs)
    first = outputs[0][0]["data"]["application/vnd.dataresource+json"]["data"]
    assert len(first) == 5 and {"reading_time", "sensor_id", "site", "co_ppm"} <= set(first[0])
    by_site = {r["site"]: r for r in outputs[1][0]["data"]["application/vnd.dataresource+json"]["data"]}
    # 10,080 minutes x 6 sensors, two sensors per site.
    assert {site: r["readings"] for site, r in by_site.items()} == {"campus": 20160, "harbour": 20160, "tunnel": 20160}
    copied = outputs[3][0]["data"]["application/vnd.dataresource+json"]["data"]
    assert copied == [{"hourly_rows": 7 * 24 * 6, "sensors": 6}]
    # A chart computed over every row, a profile, and a grid-ready result.
    chart = next(o for o in outputs[4] if "application/vnd.vegalite.v5+json" in o.get("data", {}))
    spec = chart["data"]["application/vnd.vegalite.v5+json"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5"), spec["$schema"]
    assert spec["usermeta"]["quarry"]["rows"] == 60480, "computed over every row"
    assert "60.5 k rows" in chart["data"]["text/plain"], "and says how many it summarises"
    profile = next(o for o in outputs[5] if "application/vnd.quarry.profile+json" in o.get("data", {}))
    assert profile["data"]["application/vnd.quarry.profile+json"]["rows"] == 60480
    grid = outputs[6][-1]["data"]
    assert "application/vnd.quarry.result+json" in grid and "text/html" in grid
    # Spark, handed the kernel's table with -i, gives the same answer.
    spark = outputs[8][-1]["data"]["application/vnd.dataresource+json"]["data"]
    assert spark == list(by_site.values())
    assert len(outputs) == 10, "the notebook ends with %spark stop"


def test_gas_sensor_walkthrough_cleans_aggregates_and_writes_back(demo_data, monkeypatch):
    nb = nbformat.read(ROOT / "notebooks" / "gas-sensor-walkthrough.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    for key, value in minimal_env(demo_data).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SPARK_HOME", spark_home())
    NotebookClient(nb, kernel_name="quarry", timeout=300, allow_errors=False).execute()

    def rows(index):
        cell = [c for c in nb.cells if c.cell_type == "code"][index]
        return cell.outputs[-1]["data"]["application/vnd.dataresource+json"]["data"]

    # The same rules as demo-data.sql: a minute per reading, six sensors, and
    # a fault where (minute + 7 * sensor) % 997 == 0.
    faults = sum((m + 7 * s) % 997 == 0 for m in range(1440) for s in range(1, 7))
    (raw,) = rows(1)
    assert raw["readings"] == 1440 * 6 and raw["faults"] == faults
    assert rows(2) == [{"clean_readings": 1440 * 6 - faults}]
    assert len(rows(3)) == 6
    assert rows(4) == [{"csv_rows": 24 * 3, "parquet_rows": 24 * 3, "readings": 1440 * 6 - faults}]
    worst = rows(5)
    assert [r["site"] for r in worst][0] == "tunnel"  # the CO sensors there read 2.5 ppm higher
    # Spark, handed the kernel's table with -i, gives the same answer.
    spark = rows(7)
    assert [(r["site"], r["worst_co_ppm"], r["mean_no2_ppb"]) for r in spark] == [
        (r["site"], r["worst_co_ppm"], r["mean_no2_ppb"]) for r in worst
    ]
