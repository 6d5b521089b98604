"""The fake Kubernetes API server + kubelet stand-in (crates/quarry-testkit),
started as a process, with a small client for assertions."""

import json
import os
import subprocess
import time
from pathlib import Path

import requests

from support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "images" / "spark-executor" / "entrypoint.sh"


class FakeKube:
    def __init__(self, workdir, quarry_bin, spark_home, namespace="quarry-users", notebook_pod="jupyter-alice"):
        self.dir = Path(workdir)
        self.binary = Path(quarry_bin).parent / "quarry-fake-kube"
        self.spark_home = spark_home
        self.namespace = namespace
        self.notebook_pod = notebook_pod
        self.process = None

    def __enter__(self):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "JAVA_HOME")}
        env["SPARK_HOME"] = self.spark_home
        self.log = open(self.dir / "fake-kube.log", "w")
        self.process = subprocess.Popen(
            [str(self.binary), "--dir", str(self.dir), "--namespace", self.namespace,
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
        self.token = (self.service_account / "token").read_text()
        self.url = f"https://127.0.0.1:{self.port}"
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
            "QUARRY_SPARK_EXECUTOR_IMAGE": "quarry/spark-executor:4.3.0",
        }

    def request(self, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(
            method, self.url + path, headers=headers, verify=str(self.service_account / "ca.crt"), timeout=30, **kwargs
        )

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

    def deny(self, pairs):
        self.request("POST", "/fake/deny", json=[list(p) for p in pairs]).raise_for_status()
