"""The fake Kubernetes API server + kubelet stand-in (crates/quarry-testkit),
started as a process, with a small client for assertions.

It enforces RBAC from the objects it holds, and admission: Pod Security and
the shipped ValidatingAdmissionPolicy, evaluated with a real CEL
implementation. At start it holds the shipped cluster-level manifests
(images/k8s/), applied as an administrator would (the policy's parameters
filled in for the images the tests run);
`provision_user` then lets the hub — with the hub's own service account and
rights — create a user's namespace exactly as at spawn
(images/hub/quarry_tenancy.py)."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "images" / "spark-executor" / "entrypoint.sh"
CLUSTER_MANIFESTS = [ROOT / "images" / "k8s" / name for name in ("spark-rbac.yaml", "hub-rbac.yaml", "hub-scope-policy.yaml")]
USER_POD_POLICY = ROOT / "images" / "k8s" / "user-pod-policy.yaml"
#: The executor image the tests' kernels ask for (kernel_env), which the
#: administrator's image list must name.
TEST_EXECUTOR_IMAGE = "quarry/spark-executor:4.3.0"
#: The notebook pod's image (quarry-fake-kube --notebook-pod).
TEST_NOTEBOOK_IMAGE = "quarry/singleuser"
HUB_NAMESPACE = "quarry"

sys.path.insert(0, str(ROOT / "images" / "hub"))
import quarry_tenancy  # noqa: E402


class FakeKube:
    def __init__(self, workdir, quarry_bin, spark_home, user="alice", notebook_pod="jupyter-alice"):
        self.dir = Path(workdir)
        self.binary = Path(quarry_bin).parent / "quarry-fake-kube"
        self.spark_home = spark_home
        self.user = user
        self.namespace = f"quarry-{user}"
        self.notebook_pod = notebook_pod
        self.process = None

    def filled_user_pod_policy(self):
        """The shipped admission policy with its parameters filled in as an
        administrator would: the images these tests run are allowed."""
        import yaml

        documents = [d for d in yaml.safe_load_all(USER_POD_POLICY.read_text()) if d]
        for document in documents:
            if document["kind"] == "ConfigMap":
                images = document["data"]["allowedImages"]
                document["data"]["allowedImages"] = f"{images},{TEST_EXECUTOR_IMAGE.split(':')[0]}:,{TEST_NOTEBOOK_IMAGE}"
        path = self.dir / "user-pod-policy.yaml"
        path.write_text(yaml.safe_dump_all(documents))
        return path

    def __enter__(self):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "JAVA_HOME")}
        manifests = [*CLUSTER_MANIFESTS, self.filled_user_pod_policy()]
        env["SPARK_HOME"] = self.spark_home
        self.log = open(self.dir / "fake-kube.log", "w")
        self.process = subprocess.Popen(
            [str(self.binary), "--dir", str(self.dir), "--namespace", self.namespace,
             "--service-account", quarry_tenancy.SERVICE_ACCOUNT,
             *[arg for path in manifests for arg in ("--manifests", str(path))],
             "--entrypoint", str(ENTRYPOINT), "--notebook-pod", self.notebook_pod],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        ready = self.dir / "ready.json"
        deadline = time.time() + 30
        while not ready.exists():
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"fake API server did not start: {(self.dir / 'fake-kube.log').read_text()}")
            time.sleep(0.1)
        self.port = json.loads(ready.read_text())["port"]
        self.service_account = self.dir / "serviceaccount"
        self.user_token = (self.service_account / "token").read_text()
        self.token = (self.dir / "admin-token").read_text()
        self.url = f"https://127.0.0.1:{self.port}"
        self.ca = str(self.service_account / "ca.crt")
        self.provision_user(self.user)
        return self

    def __exit__(self, *exc):
        stop_process(self.process)
        self.log.close()

    def kernel_env(self):
        """The environment a notebook pod has, pointing at this server."""
        return {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(self.port),
            "QUARRY_KUBE_SERVICEACCOUNT_DIR": str(self.service_account),
            "HOSTNAME": self.notebook_pod,
            "JUPYTERHUB_USER": "alice",
            "QUARRY_SPARK_EXECUTOR_IMAGE": TEST_EXECUTOR_IMAGE,
        }

    def request(self, method, path, token=None, **kwargs):
        """A request as the cluster admin, or with `token`."""
        headers = kwargs.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {token or self.token}")
        return requests.request(method, self.url + path, headers=headers, verify=self.ca, timeout=30, **kwargs)

    def service_account_token(self, namespace, name):
        """A token for a service account (TokenRequest), created if missing."""
        self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", json={"metadata": {"name": name}})
        response = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", json={})
        response.raise_for_status()
        return response.json()["status"]["token"]

    def hub_api(self):
        """The hub's view of the cluster: its own service account's rights."""
        if not self.request("GET", f"/api/v1/namespaces/{HUB_NAMESPACE}").ok:
            self.request("POST", "/api/v1/namespaces", json={"metadata": {"name": HUB_NAMESPACE}}).raise_for_status()
        token = self.service_account_token(HUB_NAMESPACE, "hub")
        return quarry_tenancy.KubeApi(self.url, token, self.ca)

    def provision_user(self, user):
        """What the hub does at spawn: the user's namespace and its objects."""
        namespace = f"quarry-{user}"
        asyncio.run(quarry_tenancy.ensure_user_namespace(self.hub_api(), namespace, user))
        return namespace

    def uses(self):
        """Every permission a non-admin caller was granted so far."""
        response = self.request("GET", "/fake/audit")
        response.raise_for_status()
        return response.json()

    @contextlib.contextmanager
    def without_permission(self, resource, verb):
        """Removes `verb` on `resource` from the quarry-spark ClusterRole for
        the duration (as an administrator editing the role would)."""
        path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/quarry-spark"
        original = self.request("GET", path).json()
        edited = json.loads(json.dumps(original))
        for rule in edited["rules"]:
            if resource in rule["resources"] and verb in rule["verbs"]:
                others = [r for r in rule["resources"] if r != resource]
                if others:
                    edited["rules"].append({**rule, "resources": [resource]})
                    rule["resources"] = others
        for rule in edited["rules"]:
            if rule["resources"] == [resource]:
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        self.request("PUT", path, json=edited).raise_for_status()
        try:
            yield
        finally:
            restored = self.request("GET", path).json()
            original["metadata"]["resourceVersion"] = restored["metadata"]["resourceVersion"]
            self.request("PUT", path, json=original).raise_for_status()

    def items(self, resource, selector=None):
        params = {"labelSelector": selector} if selector else {}
        response = self.request("GET", f"/api/v1/namespaces/{self.namespace}/{resource}", params=params)
        response.raise_for_status()
        return response.json()["items"]

    def get(self, resource, name):
        return self.request("GET", f"/api/v1/namespaces/{self.namespace}/{resource}/{name}")

    def create(self, resource, body):
        response = self.request("POST", f"/api/v1/namespaces/{self.namespace}/{resource}", json=body)
        response.raise_for_status()
        return response.json()

    def delete(self, resource, name):
        return self.request("DELETE", f"/api/v1/namespaces/{self.namespace}/{resource}/{name}")

