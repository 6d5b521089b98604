"""Runs inside the notebook pod (see run.sh): the Quarry kernel through
jupyter_client, the same steps as tests/test_spark_cluster.py, plus a real
s3a:// read by the executors."""

import sys

from jupyter_client.manager import start_new_kernel


def run(kc, code, timeout=600):
    outputs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=outputs.append)
    content = reply["content"]
    if content["status"] != "ok":
        sys.exit(f"{code!r} failed: {content.get('ename')}: {content.get('evalue')}")
    text = ""
    rows = None
    for msg in outputs:
        data = msg["content"].get("data", {})
        text += msg["content"].get("text", "") + data.get("text/plain", "") + "\n"
        if msg["msg_type"] == "execute_result":
            rows = data["application/vnd.dataresource+json"]["data"]
    return text, rows


km, kc = start_new_kernel(kernel_name="quarry")
try:
    run(kc, "CREATE TABLE numbers AS SELECT value AS n, value % 3 AS k FROM generate_series(1, 100000)")
    run(kc, "COPY numbers TO 's3://quarry-e2e/numbers/' STORED AS PARQUET")
    text, _ = run(kc, "%spark start --executors 2 --executor-memory 1g")
    assert "executors: 2 of 2 running" in text, text
    _, rows = run(kc, "%%spark\nSELECT k, count(*) AS c, sum(n) AS s FROM parquet.`s3a://quarry-e2e/numbers/` GROUP BY k ORDER BY k")
    _, expected = run(kc, "SELECT k, count(*) AS c, sum(n) AS s FROM numbers GROUP BY k ORDER BY k")
    assert rows == expected, (rows, expected)
    _, rows = run(kc, "%%spark -i numbers -o doubled\nSELECT sum(n * 2) AS s FROM numbers")
    _, again = run(kc, "SELECT s FROM doubled")
    assert rows == again == [{"s": 2 * sum(range(1, 100001))}], (rows, again)
    text, _ = run(kc, "%spark status")
    assert "Executors: 2 of 2 running" in text, text
    run(kc, "%spark stop")
    print("flow passed")
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
