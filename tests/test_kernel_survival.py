"""No cell can kill the kernel, and no kernel outlives its owner.

* Long and deep SQL — long expressions, many set-operation branches, deep
  nesting of parentheses, subqueries, CASE and function calls, huge IN
  lists — well past the size that overflowed the query thread's stack:
  each cell answers or fails in one sentence, and the kernel (with the
  tables of earlier cells) is still there.
* The process that started a kernel is SIGKILLed (Jupyter Server
  OOM-killed, a terminal closed hard): the kernel and the Spark JVM it
  started exit within seconds, as ipykernel does in the same test.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from support.kernels import minimal_env, run_cell, start_quarry, stop
from support.spark import spark_home


def nested(open_, inner, close, depth):
    return open_ * depth + inner + close * depth


#: Cells and what they must give: a result ("ok") or one sentence with
#: this ename. 2,000 terms overflowed the query thread's stack before; the
#: 20,000-term sum planned for six minutes (DataFusion's type coercion is
#: quadratic in depth) and is now refused before planning.
DEEP_CELLS = {
    "sum of 2,000 terms": ("SELECT " + " + ".join(["1"] * 2000), "ok"),
    "sum of 20,000 terms": ("SELECT " + " + ".join(["1"] * 20000), "SQLTooComplex"),
    "OR chain of 100,000 terms": ("SELECT 1 WHERE " + " OR ".join(f"1 = {i}" for i in range(100000)), "SQLTooComplex"),
    "2,000 AND-ed comparisons": ("SELECT count(*) FROM (VALUES (1)) t(x) WHERE " + " AND ".join(f"x <> {i}" for i in range(2, 2002)), "ok"),
    "2,500 string concatenations": ("SELECT " + " || ".join(["'a'"] * 2500), "ok"),
    "1,000 UNION ALL branches": (" UNION ALL ".join(f"SELECT {i} AS n" for i in range(1000)), "ok"),
    "parentheses 40 deep": ("SELECT " + nested("(", "1", ")", 40), "ok"),
    "parentheses 200 deep": ("SELECT " + nested("(", "1", ")", 200), "SQLTooComplex"),
    "parentheses 50,000 deep": ("SELECT " + nested("(", "1", ")", 50000), "SQLTooComplex"),
    "subqueries 200 deep": (nested("SELECT * FROM (", "SELECT 1 AS x", ") t", 200), "SQLTooComplex"),
    "function calls 2,000 deep": ("SELECT " + nested("abs(", "1", ")", 2000), "SQLTooComplex"),
    "CASE with 5,000 branches": ("SELECT CASE " + " ".join(f"WHEN {i} = 0 THEN {i}" for i in range(5000)) + " ELSE -1 END", "ok"),
    "IN list of 50,000": ("SELECT 7 IN (" + ", ".join(str(i) for i in range(50000)) + ")", "ok"),
}


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_quarry()
    reply, _ = run_cell(kc, "CREATE TABLE keep AS SELECT 42 AS answer")
    assert reply["status"] == "ok"
    yield km, kc
    stop(km, kc)


@pytest.mark.parametrize("name", list(DEEP_CELLS))
def test_long_and_deep_sql_answers_or_fails_in_one_sentence(kernel, name):
    km, kc = kernel
    sql, expected = DEEP_CELLS[name]
    reply, outputs = run_cell(kc, sql, timeout=300)
    assert km.is_alive(), f"the kernel died on {name}"
    if expected == "ok":
        assert reply["status"] == "ok", reply.get("evalue")
        assert any(m["msg_type"] == "execute_result" for m in outputs), name
    else:
        assert (reply["status"], reply["ename"]) == ("error", expected), reply.get("evalue")
        sentence = reply["evalue"]
        assert "\n" not in sentence and 0 < len(sentence) < 400 and sentence.endswith("."), sentence
    # The session, with the table from before, is intact.
    reply, outputs = run_cell(kc, "SELECT answer FROM keep")
    assert reply["status"] == "ok"
    assert "42" in json.dumps([m["content"] for m in outputs], default=str)


def test_the_parser_limit_can_be_raised_as_the_error_says(kernel):
    _, kc = kernel
    deep = "SELECT " + nested("(", "1", ")", 150)
    reply, _ = run_cell(kc, deep)
    assert reply["ename"] == "SQLTooComplex"
    assert "SET datafusion.sql_parser.recursion_limit = 200" in reply["evalue"]
    assert run_cell(kc, "SET datafusion.sql_parser.recursion_limit = 200")[0]["status"] == "ok"
    reply, outputs = run_cell(kc, deep)
    assert reply["status"] == "ok", reply.get("evalue")
    run_cell(kc, "SET datafusion.sql_parser.recursion_limit = 50")


HELPER = textwrap.dedent(
    """
    import json, sys, time
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = {}
    for name in sys.argv[1].split(","):
        km = KernelManager(kernel_name=name)
        km.start_kernel(env=json.loads(sys.argv[2]))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kernels[name] = (km, kc)
    pids = {name: km.provisioner.process.pid for name, (km, kc) in kernels.items()}
    if sys.argv[3] == "spark":
        kc = kernels["quarry"][1]
        msg_id = kc.execute("%spark start")
        reply = kc.get_shell_msg(timeout=300)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.execute("%spark status")
        text = ""
        while "server pid " not in text:
            msg = kc.get_iopub_msg(timeout=60)
            text += json.dumps(msg["content"])
        pids["spark"] = int(text.split("server pid ")[1].split(",")[0])
    print(json.dumps(pids), flush=True)
    time.sleep(3600)
    """
)


def gone(pid, within):
    """Whether `pid` exits (or is a zombie) within `within` seconds."""
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.2)
    return False


def kill_all(pids):
    """Leaves nothing behind, whatever the test found."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_owner(kernels, env, spark=False):
    """A process that starts `kernels` through jupyter_client (which sets
    JPY_PARENT_PID) and then just waits; returns it and the kernels' pids."""
    owner = subprocess.Popen(
        [sys.executable, "-c", HELPER, ",".join(kernels), json.dumps(env), "spark" if spark else "-"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = owner.stdout.readline()
    assert line, f"the owner process failed (exit {owner.poll()})"
    return owner, json.loads(line)


def test_a_kernel_exits_when_the_process_that_started_it_is_killed():
    owner, pids = start_owner(["quarry", "python3"], minimal_env())
    try:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert gone(pids["python3"], within=15), "ipykernel (the comparison) stayed"
        assert gone(pids["quarry"], within=15), "the Quarry kernel outlived its owner"
    finally:
        kill_all(pids.values())


def test_a_kernel_stops_its_spark_jvm_when_its_owner_dies():
    env = minimal_env({"SPARK_HOME": spark_home(), **({"JAVA_HOME": os.environ["JAVA_HOME"]} if os.environ.get("JAVA_HOME") else {})})
    owner, pids = start_owner(["quarry"], env, spark=True)
    try:
        assert not gone(pids["spark"], within=1), "the Spark JVM should be running"
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert gone(pids["quarry"], within=20), "the Quarry kernel outlived its owner"
        assert gone(pids["spark"], within=20), "the Spark JVM outlived the kernel's owner"
    finally:
        kill_all(pids.values())
