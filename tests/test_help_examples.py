"""Every example `%help` shows runs as written on the demo data `quarry lab`
generates (notebooks/demo-data.sql), in the order shown: a newcomer's first
copy-and-paste works."""

import re
from pathlib import Path

import pytest

from support.docs import documentation_text
from support.kernels import run_cell, start_quarry, stop
from support.spark import spark_home

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel(seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("bob"))
    # As in the lab: exports go into the demo bucket.
    env = {**seaweed.env_for(credentials), "QUARRY_EXPORT_PREFIX": "s3://demo/exports/", "SPARK_HOME": spark_home()}
    km, kc = start_quarry(env=env)
    reply, _ = run_cell(kc, (ROOT / "notebooks/demo-data.sql").read_text(), timeout=300)
    assert reply["status"] == "ok", reply.get("evalue")
    yield kc
    stop(km, kc)


def help_examples(kc):
    reply, outputs = run_cell(kc, "%help")
    assert reply["status"] == "ok"
    markdown = outputs[0]["content"]["data"]["text/markdown"]
    blocks = re.findall(r"```sql\n(.*?)```", markdown, re.S)
    assert len(blocks) >= 2, markdown
    return [cell.strip() for block in blocks for cell in block.split("\n\n") if cell.strip()]


def test_every_help_example_runs_on_the_demo_data(kernel):
    cells = help_examples(kernel)
    assert len(cells) >= 12, cells
    for cell in cells:
        reply, outputs = run_cell(kernel, cell, timeout=180)
        assert reply["status"] == "ok", (cell, reply.get("ename"), reply.get("evalue"))
        if not cell.upper().startswith(("CREATE", "COPY")):
            shown = [m for m in outputs if m["msg_type"] in ("display_data", "execute_result", "stream")]
            assert shown, f"{cell!r} showed nothing"


def lsmagic_examples(kc):
    reply, outputs = run_cell(kc, "%lsmagic")
    assert reply["status"] == "ok"
    markdown = outputs[0]["content"]["data"]["text/markdown"]
    blocks = re.findall(r"^  ```sql\n(.*?)^  ```", markdown, re.S | re.M)
    cells = []
    for block in blocks:
        text = "\n".join(line.removeprefix("  ") for line in block.splitlines())
        cells += [cell.strip() for cell in text.split("\n\n") if cell.strip()]
    return blocks, cells


def test_every_lsmagic_example_runs_on_the_demo_data(kernel):
    """After %help's (which create `readings`), in the order shown; Spark's
    run in local mode."""
    blocks, cells = lsmagic_examples(kernel)
    assert len(blocks) == 13, "one block per magic"
    magics = {cell.split()[0] for cell in cells}
    assert {"%lsmagic", "%chart", "%profile", "%export", "%set", "%s3", "%spark", "%%spark"} <= magics
    for cell in cells:
        reply, outputs = run_cell(kernel, cell, timeout=300)
        assert reply["status"] == "ok", (cell, reply.get("ename"), reply.get("evalue"))
        shown = [m for m in outputs if m["msg_type"] in ("display_data", "execute_result", "stream")]
        assert shown, f"{cell!r} showed nothing"
    reply, outputs = run_cell(kernel, "%spark status")
    assert "No Spark session" in str(outputs), "the examples end by stopping Spark"


def test_newcomers_mistakes_get_sentences_that_say_what_to_do(kernel):
    """The four mistakes a first hour brings, each answered exactly."""
    cases = [
        (
            "import pandas as pd",
            "SQLSyntaxError",
            "This is a SQL kernel, and `import pandas as pd` is Python: run Python in a notebook with the Python 3 kernel (File › New › Notebook), and share results with it through %export or S3.",
        ),
        (
            "SELECT * FROM 's3://demo/sensors/readings.parquet' WHERE site = tunnel",
            "SQLPlanError",
            "There is no column named tunnel: to compare site with the text 'tunnel', put it in single quotes: site = 'tunnel'.",
        ),
        (
            "SELECT temprature_c FROM 's3://demo/sensors/readings.parquet'",
            "SQLPlanError",
            "There is no column named temprature_c; did you mean temperature_c? The columns are reading_time, sensor_id, site, temperature_c, humidity_pct, co_ppm, no2_ppb, status.",
        ),
        (
            "CREATE EXTERNAL TABLE mixed STORED AS PARQUET LOCATION 's3://demo/sensors/'",
            "SQLPlanError",
            "s3://demo/sensors/ holds files of several formats — CSV (readings-day1.csv), JSON (sensors.json), Parquet (readings.parquet) — and a table reads one: point at one file, such as 's3://demo/sensors/readings.parquet', or at a folder of one format.",
        ),
    ]
    for cell, ename, sentence in cases:
        reply, _ = run_cell(kernel, cell, timeout=120)
        assert (reply["status"], reply.get("ename"), reply.get("evalue")) == ("error", ename, sentence), cell
    reply, _ = run_cell(kernel, "SELECT 1 AS still_here")
    assert reply["status"] == "ok"


#: Documentation code blocks the test does not run, by their fence's language, and why.
NOT_RUN = {
    "sh": "shell commands (the Quick start's are what CI itself runs)",
    "ini": "the AWS config file's text: tests/test_python_s3.py runs Python's AWS tools with it",
    "python": "Python notebook code: tests/test_lab.py runs it in a Python 3 kernel of `cargo xtask lab`",
    "quarry-spark": "needs executor pods: tests/test_spark_cluster.py runs %spark start --executors and %%spark -i/-o on its fake cluster",
    "text": "synopses and listings (a magic's usage line, the module tree), not code",
}

#: Pages whose examples another test runs: the magic reference is the
#: magic table, whose examples test_every_lsmagic_example_runs_on_the_demo_data
#: runs as %lsmagic shows them.
RUN_ELSEWHERE = ("reference/magics.md",)


def test_every_sql_example_in_the_documentation_runs_on_the_demo_data(kernel):
    """The user documentation's examples (the README, then the book in
    reading order), as written, in order, after the %help examples (the
    same kept tables, as a reader's catalog would have)."""
    text = documentation_text(skip=RUN_ELSEWHERE)
    blocks = re.findall(r"^ *```([\w-]+)\n(.*?)^ *```", text, re.S | re.M)
    languages = {language for language, _ in blocks}
    assert languages <= {"sql"} | set(NOT_RUN), f"a documentation block in a language this test neither runs nor names: {languages}"
    sql = [body.strip() for language, body in blocks if language == "sql"]
    assert len(sql) >= 3, sql
    for cell in sql:
        reply, outputs = run_cell(kernel, cell, timeout=300)
        assert reply["status"] == "ok", (cell, reply.get("ename"), reply.get("evalue"))
        statements = [p.strip() for p in re.sub(r"--[^\n]*", "", cell).split(";") if p.strip()]
        if not statements[-1].upper().startswith(("CREATE", "INSERT", "COPY", "DROP")):
            shown = [m for m in outputs if m["msg_type"] in ("display_data", "execute_result")]
            assert shown, f"{cell!r} showed nothing"
