"""`%spark` "in a cluster": the kernel runs as if inside a notebook pod,
against the fake Kubernetes API server whose kubelet stand-in runs each
executor pod through images/spark-executor/entrypoint.sh — so an unmodified
Spark 4.3 driver (fabric8) launches real executor JVMs."""

import base64
import io
import json
import os
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support.checkov import unexplained
from support.fake_kube import FakeKube, quarry_tenancy
from support.kernels import rows_of, run_cell, start_quarry, stop
from support.ports import free_ports
from support.kernels import text_of as support_text_of
from support.spark import spark_env, spark_home

ROOT = Path(__file__).resolve().parent.parent
#: Checks Spark's executor pods fail on purpose, and why.
EXECUTOR_POD_SUPPRESSED = {
    "CKV_K8S_8": "no liveness probe: the driver notices a lost executor itself and Spark replaces it",
    "CKV_K8S_9": "no readiness probe: executors register with the driver when ready; nothing routes to them",
    "CKV_K8S_15": "pull policy IfNotPresent: Spark's default, images are tagged per release",
    "CKV_K8S_22": "writable root filesystem: Spark unpacks jars and writes scratch files outside the local-dir volume",
    "CKV_K8S_40": "uid 185 is the executor image's spark user (Spark's own images); PSA restricted only requires non-root",
    "CKV_K8S_43": "image by tag, not digest: QUARRY_SPARK_IMAGES lets the administrator pin digests",
    "CKV_K8S_11": "CPU limit: Spark sets a request per executor core; a limit would throttle the JVM (the namespace quota caps the total)",
}
EXECUTOR_SECRET_DIR = "/var/run/quarry/spark-auth"
SESSION_KINDS = ("pods", "configmaps", "services", "persistentvolumeclaims")  # what a session could leave (as the admin sees it)


def text_of(outputs):
    return support_text_of(outputs, with_updates=True)


def kernel_secret_key(kernel):
    return kernel.quarry_credentials["SecretAccessKey"]


def start_line(executors=2, driver=None):
    # Free driver ports: the defaults (7078/7079) are what the NetworkPolicy
    # opens in a real cluster, but tests may run beside other Spark drivers.
    ports = free_ports(2)
    driver, block_manager = (driver or ports[0]), ports[1]
    return (
        f"%spark start --executors {executors} --executor-memory 512m "
        f"--conf spark.driver.port={driver} --conf spark.driver.blockManager.port={block_manager}"
    )


def session_id(text):
    return text.split("Spark 4.3.0 session ")[-1].split()[0]


def wait_for(condition, within=60, every=0.5):
    deadline = time.time() + within
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return condition()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, quarry_bin):
    with FakeKube(tmp_path_factory.mktemp("fake-kube"), quarry_bin, spark_home()) as kube:
        yield kube


@pytest.fixture(scope="module")
def kernel(cluster, seaweed, oidc):
    credentials = seaweed.assume_role(oidc.mint("alice"))
    env = spark_env(seaweed, credentials)
    env.update(cluster.kernel_env())
    # The administrator's limits, as values.yaml sets them.
    env.update({"QUARRY_SPARK_IMAGES": "quarry/spark-executor", "QUARRY_SPARK_MAX_EXECUTORS": "4",
                "QUARRY_SPARK_MAX_EXECUTOR_MEMORY": "1g"})
    km, kc = start_quarry(env=env)
    kc.quarry_credentials = credentials
    yield kc
    stop(km, kc)


@pytest.fixture(scope="module")
def sensor_object(seaweed):
    table = pa.table({"site": ["a", "b", "a", "c", "a", "b"], "value": [1, 2, 3, 4, 5, 6]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    seaweed.admin().put_object(Bucket="data", Key="cluster/sensors.parquet", Body=sink.getvalue())
    return table


def test_executors_are_labelled_owned_pods_that_compute_and_are_cleaned_up(cluster, kernel, sensor_object):
    reply, outputs = run_cell(kernel, start_line(), timeout=300)
    text = text_of(outputs)
    assert reply["status"] == "ok", (reply.get("evalue"), text, (cluster.dir / "fake-kube.log").read_text()[-3000:])
    assert "Checking Kubernetes permissions" in text
    assert "ready · executors: 2 of 2 running" in text
    session = session_id(text)

    notebook = cluster.get("pods", cluster.notebook_pod).json()
    executors = cluster.items("pods", f"quarry.io/session={session}")
    assert len(executors) == 2
    for pod in executors:
        labels = pod["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "quarry"
        assert labels["quarry.io/user"] == "alice"
        assert pod["metadata"]["name"].startswith(f"quarry-alice-{session[:8]}")
        owners = pod["metadata"]["ownerReferences"]
        assert [o["uid"] for o in owners] == [notebook["metadata"]["uid"]]
        assert pod["status"]["phase"] == "Running"

    status = text_of(run_cell(kernel, "%spark status")[1])
    assert "Executors: 2 of 2 running" in status and cluster.namespace in status

    # The session's own secret authenticates its executors; it is mounted
    # as a file, and neither it nor the S3 keys are anywhere in a pod spec.
    (secret,) = cluster.items("secrets", f"quarry.io/session={session}")
    assert secret["metadata"]["ownerReferences"][0]["uid"] == notebook["metadata"]["uid"]
    shared = base64.b64decode(secret["data"]["secret"]).decode()
    specs = json.dumps(executors)
    for value in (shared, kernel_secret_key(kernel), "SPARK_AUTHENTICATE_SECRET"):
        assert value not in specs
    assert f"spark.authenticate.secret.executor.file={EXECUTOR_SECRET_DIR}/secret" in specs
    # checkov over the executor pods as Spark made them, with their namespace.
    objects = executors + quarry_tenancy.user_namespace_objects(cluster.namespace, cluster.user)
    assert unexplained(objects, EXECUTOR_POD_SUPPRESSED) == []
    # Admitted under PSA `restricted` (the fake API server enforces it in the
    # user's namespace): non-root, no escalation, no capabilities, seccomp.
    for pod in executors:
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    # Data the kernel read from S3 goes to Spark with -i; executors compute.
    assert run_cell(kernel, "CREATE TABLE sensors AS SELECT * FROM 's3://data/cluster/sensors.parquet'")[0]["status"] == "ok"
    reply, outputs = run_cell(
        kernel, "%%spark -i sensors -o per_site\nSELECT site, sum(value) AS total FROM sensors GROUP BY site ORDER BY site", timeout=180
    )
    assert reply["status"] == "ok", reply.get("evalue")
    expected = {}
    for site, value in zip(sensor_object["site"].to_pylist(), sensor_object["value"].to_pylist()):
        expected[site] = expected.get(site, 0) + value
    assert [(r["site"], r["total"]) for r in rows_of(outputs)] == sorted(expected.items())
    logs = "".join(text_of(run_cell(kernel, f"%spark logs {i}")[1]) for i in (1, 2))
    assert "Finished task" in logs, logs[-2000:]
    assert rows_of(run_cell(kernel, "SELECT sum(total) AS s FROM per_site")[1]) == [{"s": sum(expected.values())}]

    reply, outputs = run_cell(kernel, "%spark stop", timeout=120)
    assert reply["status"] == "ok"
    assert cluster.items("secrets", f"quarry.io/session={session}") == []
    for kind in SESSION_KINDS:
        assert cluster.items(kind, f"quarry.io/session={session}") == [], kind
    # Spark's own executor config map is gone too.
    assert [m for m in cluster.items("configmaps") if "spark-exec" in m["metadata"]["name"]] == []


def test_a_rogue_executor_without_the_session_secret_is_refused(cluster, kernel, tmp_path):
    """Something that reaches the driver's port (another user's pod, were the
    network policy missing) and poses as an executor gets nothing: no
    registration, no configuration, no S3 keys."""
    driver = free_ports(1)[0]
    reply, outputs = run_cell(kernel, start_line(executors=1, driver=driver), timeout=300)
    assert reply["status"] == "ok", reply.get("evalue")
    session = session_id(text_of(outputs))
    try:
        java = Path(os.environ["JAVA_HOME"]) / "bin" / "java" if os.environ.get("JAVA_HOME") else "java"
        rogue = subprocess.run(
            [str(java), "-Dspark.authenticate=true", "-Dspark.authenticate.secret=guessed-wrong",
             "-cp", f"{spark_home()}/jars/*", "org.apache.spark.executor.CoarseGrainedExecutorBackend",
             "--driver-url", f"spark://CoarseGrainedScheduler@127.0.0.1:{driver}", "--executor-id", "99",
             "--hostname", "127.0.0.1", "--cores", "1", "--app-id", "rogue", "--resourceProfileId", "0"],
            capture_output=True, text=True, timeout=180,
        )
        said = rogue.stdout + rogue.stderr
        assert rogue.returncode != 0, said[-2000:]
        assert "fs.s3a" not in said and kernel_secret_key(kernel) not in said, said[-2000:]
        assert "Successfully registered with driver" not in said
        logs = text_of(run_cell(kernel, "%spark logs")[1])
        assert "with ID 99" not in logs, logs[-3000:]
        # The session's own executor still works.
        reply, outputs = run_cell(kernel, "%%spark\nSELECT count(*) AS n FROM range(1000)", timeout=180)
        assert reply["status"] == "ok", reply.get("evalue")
        assert rows_of(outputs) == [{"n": 1000}]
    finally:
        run_cell(kernel, "%spark stop", timeout=120)
    assert cluster.items("secrets", f"quarry.io/session={session}") == []


def test_two_notebooks_in_one_pod_each_run_cluster_spark(cluster, kernel, seaweed, oidc):
    """Each session takes its own pair of the driver ports the NetworkPolicy
    opens (7078–7099): no --conf, two drivers, both with their executors."""
    credentials = seaweed.assume_role(oidc.mint("alice"))
    env = spark_env(seaweed, credentials)
    env.update(cluster.kernel_env())
    km2, second = start_quarry(env=env)
    try:
        texts = []
        for kc in (kernel, second):
            reply, outputs = run_cell(kc, "%spark start --executors 1 --executor-memory 512m", timeout=300)
            assert reply["status"] == "ok", reply.get("evalue")
            texts.append(text_of(outputs))
        sessions = [session_id(t) for t in texts]
        assert sessions[0] != sessions[1]
        ports = set()
        for session in sessions:
            (pod,) = cluster.items("pods", f"quarry.io/session={session}")
            opts = {e["value"] for e in pod["spec"]["containers"][0]["env"] if e["name"].startswith("SPARK_JAVA_OPT_")}
            port = next(int(o.split("=")[1]) for o in opts if o.startswith("-Dspark.driver.port="))
            assert 7078 <= port <= 7099, port
            ports.add(port)
        assert len(ports) == 2, ports
        for kc in (kernel, second):
            reply, outputs = run_cell(kc, "%%spark\nSELECT count(*) AS n FROM range(10)", timeout=180)
            assert rows_of(outputs) == [{"n": 10}], reply.get("evalue")
    finally:
        for kc in (kernel, second):
            run_cell(kc, "%spark stop", timeout=120)
        stop(km2, second)


def test_denied_rbac_is_one_clear_sentence(cluster, kernel):
    # The preflight asks the API server, which answers from the real roles.
    with cluster.without_permission("pods", "create"):
        reply, _ = run_cell(kernel, start_line(), timeout=60)
    assert reply["status"] == "error"
    assert reply["ename"] == "KubernetesError"
    assert reply["evalue"] == (
        "This notebook's service account may not create pods in namespace quarry-alice, so Spark cannot run executors: "
        "an administrator applies images/k8s/spark-rbac.yaml (the ClusterRole quarry-spark) and the hub binds it in "
        "quarry-alice (RoleBinding quarry-spark)."
    )
    assert "No Spark session" in text_of(run_cell(kernel, "%spark status")[1])


@pytest.mark.parametrize("options,sentence", [
    ("--image evil/miner:1", "The executor image evil/miner:1 is not allowed on this platform; allowed: quarry/spark-executor (QUARRY_SPARK_IMAGES, set by the administrator)."),
    ("--executors 400", "400 executors is more than this platform allows: at most 4 (QUARRY_SPARK_MAX_EXECUTORS, set by the administrator)."),
    ("--executor-memory 64g", "--executor-memory 64g is more than this platform allows: at most 1g per executor (QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."),
    ("--conf spark.kubernetes.namespace=quarry-bob", "--conf spark.kubernetes.namespace cannot be set here: Quarry sets it to keep the Spark session in this notebook's own namespace and identity."),
    ("--conf spark.kubernetes.container.image=evil/miner:1", "The executor image evil/miner:1 is not allowed on this platform; allowed: quarry/spark-executor (QUARRY_SPARK_IMAGES, set by the administrator)."),
    # Fail closed: the executor's own image key, booleans in any case,
    # every size suffix Spark reads, and the overhead counted.
    ("--conf spark.kubernetes.executor.container.image=evil/miner:1", "The executor image evil/miner:1 is not allowed on this platform; allowed: quarry/spark-executor (QUARRY_SPARK_IMAGES, set by the administrator)."),
    ("--conf spark.dynamicAllocation.enabled=TRUE --conf spark.dynamicAllocation.maxExecutors=400", "400 executors is more than this platform allows: at most 4 (QUARRY_SPARK_MAX_EXECUTORS, set by the administrator)."),
    ("--conf spark.executor.memory=64gb", "--executor-memory 64gb is more than this platform allows: at most 1g per executor (QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."),
    ("--executor-memory 512m --conf spark.executor.memoryOverhead=64g", "These settings make each executor pod 64.5 GiB (heap, overhead, off-heap and PySpark memory), more than this platform allows: at most 1.4 GiB (1g and Spark's default overhead; QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."),
])
def test_the_administrators_limits_refuse_in_one_sentence(cluster, kernel, options, sentence):
    reply, _ = run_cell(kernel, f"%spark start {options}", timeout=60)
    assert reply["status"] == "error"
    assert (reply["ename"], reply["evalue"]) == ("SparkNotAllowed", sentence)
    assert cluster.items("pods", "app.kubernetes.io/managed-by=quarry") == []


def test_exceeded_quota_is_one_clear_sentence(cluster, kernel):
    # The notebook pod already uses the only pod the quota allows.
    cluster.create("resourcequotas", {"metadata": {"name": "user-quota"}, "spec": {"hard": {"pods": "1"}}})
    try:
        reply, _ = run_cell(kernel, start_line(), timeout=300)
    finally:
        cluster.delete("resourcequotas", "user-quota")
    assert reply["status"] == "error", reply
    assert reply["ename"] == "KubernetesError", reply["evalue"]
    assert reply["evalue"].startswith(
        "Kubernetes refused the executor pods: exceeded quota: user-quota, requested: pods=1, used: pods=1, limited: pods=1."
    ), reply["evalue"]
    assert cluster.items("pods", "app.kubernetes.io/managed-by=quarry") == []


def test_deleting_the_notebook_pod_cascades_to_executors(cluster, kernel):
    reply, outputs = run_cell(kernel, start_line(executors=1), timeout=300)
    assert reply["status"] == "ok", reply.get("evalue")
    session = session_id(text_of(outputs))
    assert len(cluster.items("pods", f"quarry.io/session={session}")) == 1
    notebook = cluster.get("pods", cluster.notebook_pod).json()
    assert cluster.delete("pods", cluster.notebook_pod).status_code == 200
    assert wait_for(lambda: cluster.items("pods", f"quarry.io/session={session}") == [], within=30)
    run_cell(kernel, "%spark stop", timeout=120)
    # Put the notebook pod back for anything after this test.
    notebook["metadata"] = {"name": notebook["metadata"]["name"], "labels": notebook["metadata"].get("labels", {})}
    # As the hub would send it: the scheduler, not the request, picks the node
    # (the admission policy refuses a nodeName).
    notebook["spec"].pop("nodeName", None)
    cluster.create("pods", notebook)


def test_watch_protocol_details(cluster):
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    listed = cluster.request("GET", path).json()
    version = int(listed["metadata"]["resourceVersion"])
    cluster.create("configmaps", {"metadata": {"name": "w1", "labels": {"t": "w"}}, "data": {"k": "v"}})
    stream = cluster.request(
        "GET", path, params={"watch": "true", "resourceVersion": str(version), "labelSelector": "t=w", "timeoutSeconds": "2"}, stream=True
    )
    events = [line for line in stream.iter_lines() if line]
    assert len(events) == 1 and b'"ADDED"' in events[0] and b'"w1"' in events[0]
    # After compaction an old resourceVersion is gone: 410 inside the stream.
    cluster.request("POST", "/fake/compact").raise_for_status()
    cluster.create("configmaps", {"metadata": {"name": "w2"}})
    stale = cluster.request("GET", path, params={"watch": "true", "resourceVersion": str(version)}, stream=True)
    first = next(line for line in stale.iter_lines() if line)
    assert b'"ERROR"' in first and b'"code":410' in first
    # Websocket watches are refused so fabric8 falls back to HTTP.
    upgrade = cluster.request("GET", path, params={"watch": "true"}, headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert upgrade.status_code == 503
    for name in ("w1", "w2"):
        cluster.delete("configmaps", name)
    assert cluster.request("GET", path, headers={"Authorization": "Bearer wrong"}).status_code in (401,)


def test_the_spark_role_grants_no_verb_the_session_did_not_use(cluster):
    """"At most": every permission the shipped ClusterRole grants was used by
    the Spark driver or Quarry in the tests above (the fake API server
    records what RBAC allowed). Runs last in this module, after a full
    session, a refused start, a quota refusal and a cascade."""
    import yaml

    user = f"system:serviceaccount:{cluster.namespace}:quarry-spark"
    used = {
        (u["group"], u["resource"], u["verb"]) for u in cluster.uses()
        if u["user"] == user and u["group"] != "authorization.k8s.io"
    }
    # Parsed as YAML (block or flow style, any key order), every API group
    # counted; a wildcard grants more than any use could show.
    (role,) = [d for d in yaml.safe_load_all((ROOT / "images" / "k8s" / "spark-rbac.yaml").read_text()) if d]
    granted = set()
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), (field, rule)
        granted |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted - used == set(), f"granted but never used: {sorted(granted - used)}; used: {sorted(used)}"
    assert used - granted == set()
