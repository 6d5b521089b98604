"""Time to a first Spark result, and driver memory: Quarry's `%spark start`
+ `%%spark` vs pyspark's own `SparkSession.builder…getOrCreate()` + the same
query, in local mode and against the fake cluster (2 executors).

Runs alternate between the two so machine load affects both alike; reports
medians and ratios (Quarry / pyspark). Quarry's first session on a machine
runs without a class archive (it builds one when it stops); that start is
reported on its own row, the medians are of later sessions.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support.fake_kube import FakeKube  # noqa: E402
from support.kernels import install_kernelspec, run_cell, start_quarry, stop  # noqa: E402
from support.ports import free_ports  # noqa: E402
from support.processes import rss_mib  # noqa: E402
from support.spark import spark_home, wait_for_class_archive  # noqa: E402

QUERY = "SELECT count(*) AS n, sum(id % 7) AS s FROM range(20000000)"


def cluster_conf(kube, driver_port, block_port):
    sa = kube.service_account
    return {
        "spark.master": f"k8s://https://127.0.0.1:{kube.port}",
        "spark.submit.deployMode": "client",
        "spark.kubernetes.namespace": kube.namespace,
        "spark.kubernetes.driver.pod.name": kube.notebook_pod,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.port": str(driver_port),
        "spark.driver.blockManager.port": str(block_port),
        "spark.kubernetes.authenticate.oauthTokenFile": str(sa / "token"),
        "spark.kubernetes.authenticate.caCertFile": str(sa / "ca.crt"),
        "spark.kubernetes.container.image": "quarry/spark-executor:4.3.0",
        "spark.kubernetes.executor.podNamePrefix": f"pyspark-bench-{driver_port}",
        "spark.executor.instances": "2",
        "spark.executor.memory": "512m",
        "spark.ui.enabled": "false",
    }


def quarry_run(env, start_line):
    started = time.perf_counter()
    km, kc = start_quarry(env=env, startup_timeout=60)
    try:
        kernel_up = time.perf_counter()
        reply, _ = run_cell(kc, start_line, timeout=300)
        assert reply["status"] == "ok", reply.get("evalue")
        reply, outputs = run_cell(kc, f"%%spark\n{QUERY}", timeout=300)
        assert reply["status"] == "ok", reply.get("evalue")
        first_result = time.perf_counter()
        _, status = run_cell(kc, "%spark status")
        text = "".join(m["content"]["data"].get("text/plain", "") for m in status if m["msg_type"] == "display_data")
        jvm = int(text.split("server pid ")[1].split(",")[0])
        rss = rss_mib(jvm) + rss_mib(km.provisioner.process.pid)
        run_cell(kc, "%spark stop", timeout=120)
    finally:
        stop(km, kc)
    return {"seconds": first_result - kernel_up, "with_kernel_start": first_result - started, "driver_rss_mib": rss}


PYSPARK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    started = time.perf_counter()
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("bench")
    for key, value in json.loads(sys.argv[1]).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sql(sys.argv[2]).collect()
    took = time.perf_counter() - started
    rss = 0.0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().split(")")[1].split()[1]) != os.getpid():
                        continue
                with open(f"/proc/{pid}/status") as f:
                    rss += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
            except (FileNotFoundError, StopIteration, ValueError):
                pass
    with open(f"/proc/{os.getpid()}/status") as f:
        rss += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
    print(json.dumps({"seconds": took, "driver_rss_mib": rss}))
    spark.stop()
    """
)


def pyspark_run(conf, env):
    out = subprocess.run(
        [sys.executable, "-c", PYSPARK_SCRIPT, json.dumps(conf), QUERY],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    install_kernelspec(args.quarry)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    base_env = {"SPARK_HOME": home}
    if os.environ.get("JAVA_HOME"):
        base_env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    py_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "JAVA_HOME")}
    py_env["SPARK_LOCAL_IP"] = "127.0.0.1"

    results = {"local": {"quarry": [], "pyspark": []}, "fake-cluster": {"quarry": [], "pyspark": []}}
    local_conf = {"spark.master": "local[*]", "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false"}
    archive_dir = tempfile.TemporaryDirectory(prefix="quarry-spark-cds-")
    base_env["XDG_CACHE_HOME"] = archive_dir.name
    first = {"quarry": [quarry_run(base_env, "%spark start")], "pyspark": [pyspark_run(local_conf, py_env)]}
    wait_for_class_archive(archive_dir.name, timeout=300)
    for _ in range(args.runs):
        results["local"]["quarry"].append(quarry_run(base_env, "%spark start"))
        results["local"]["pyspark"].append(pyspark_run(local_conf, py_env))
    # The fake API server is a test binary: a release build of Quarry may
    # have it beside it, else the debug build does.
    beside = [Path(args.quarry).parent, Path(args.quarry).parent.parent / "debug"]
    fake_dir = next(d for d in beside if (d / "quarry-fake-kube").exists())
    with tempfile.TemporaryDirectory() as workdir, FakeKube(workdir, str(fake_dir / "quarry"), home) as kube:
        for _ in range(args.runs):
            driver, block = free_ports(2)
            env = dict(base_env, **kube.kernel_env())
            line = f"%spark start --executors 2 --executor-memory 512m --conf spark.driver.port={driver} --conf spark.driver.blockManager.port={block}"
            results["fake-cluster"]["quarry"].append(quarry_run(env, line))
            driver, block = free_ports(2)
            results["fake-cluster"]["pyspark"].append(pyspark_run(cluster_conf(kube, driver, block), py_env))

    lines = [
        "# Spark: time to first result and driver memory",
        "",
        f"Query: `{QUERY}`. Median of {args.runs} alternating runs. Quarry: `%spark start` → `%%spark` result "
        "(kernel already running; JVM started by the kernel). pyspark: `SparkSession.builder…getOrCreate()` + "
        "`spark.sql(…).collect()` in a fresh Python (includes importing pyspark). RSS = driver JVM + the "
        "kernel (Quarry) or the Python process (pyspark).",
        "",
        "| mode | Quarry s | pyspark s | ratio | Quarry RSS MiB | pyspark RSS MiB | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = {}
    results = {"local, first session (no class archive yet; 1 run)": first, **results}
    for mode, pair in results.items():
        q = statistics.median(r["seconds"] for r in pair["quarry"])
        p = statistics.median(r["seconds"] for r in pair["pyspark"])
        qm = statistics.median(r["driver_rss_mib"] for r in pair["quarry"])
        pm = statistics.median(r["driver_rss_mib"] for r in pair["pyspark"])
        summary[mode] = {"quarry_s": q, "pyspark_s": p, "ratio_s": q / p, "quarry_rss": qm, "pyspark_rss": pm, "ratio_rss": qm / pm}
        lines.append(f"| {mode} | {q:.1f} | {p:.1f} | {q / p:.2f} | {qm:.0f} | {pm:.0f} | {qm / pm:.2f} |")
    text = "\n".join(lines) + "\n"
    (out / "spark.md").write_text(text)
    (out / "spark.json").write_text(json.dumps({"median": summary, "raw": results}, indent=1))
    print(text)
    archive_dir.cleanup()


if __name__ == "__main__":
    main()
