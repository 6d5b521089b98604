"""Each user's own Kubernetes namespace: what isolates one tenant from another.

KubeSpawner (with `enable_user_namespaces`) puts each user's server in its
own namespace; before it spawns, the hub hook (`quarry_hub_hook`) applies the
objects below through the Kubernetes API with the hub's own service account
(whose rights are `images/k8s/hub-rbac.yaml`):

* the Namespace, with Pod Security Admission `restricted` enforced;
* the `quarry-spark` ServiceAccount the notebook pod runs as, bound to the
  ClusterRole `quarry-spark` (`images/k8s/spark-rbac.yaml`) in this
  namespace only — the user's token can do nothing anywhere else;
* a ResourceQuota and a LimitRange, so one user's `%spark start
  --executors 400` exhausts only their own quota (ephemeral storage
  included: a pod cannot fill a node's disk), and a quota that admits no
  pod with a priority class but the platform's;
* NetworkPolicies: deny by default; the notebook accepts the hub and proxy
  and its own executors (driver ports), executors accept their own
  notebook and each other; egress only to DNS, S3/STS, the hub API, the
  Kubernetes API and the user's own pods.

The objects are plain dictionaries, so tests apply them to the fake API
server and check them with checkov exactly as the hub sends them.
"""

from __future__ import annotations

import json
import os
import re
import ssl
from dataclasses import dataclass, field

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

#: The service account user pods run as (the Spark driver uses its token).
SERVICE_ACCOUNT = "quarry-spark"
#: The ClusterRole bound in each user namespace (images/k8s/spark-rbac.yaml).
SPARK_CLUSTER_ROLE = "quarry-spark"
#: Driver and block-manager ports Quarry's Spark sessions use: one pair per
#: kernel in the pod (quarry-spark picks a free pair, kube::DRIVER_PORTS),
#: opened to the user's own executors.
DRIVER_PORTS = (7078, 7099)


@dataclass
class TenancySettings:
    """What an operator chooses, from the hub's environment."""

    #: The namespace the hub and proxy run in (the Helm release namespace).
    hub_namespace: str = "quarry"
    #: Where MinIO runs, and its S3/STS port.
    s3_namespace: str = "minio"
    s3_port: int = 9000
    #: The Kubernetes API server's address for egress rules (CIDR), and port.
    api_server_cidr: str = "10.0.0.1/32"
    api_server_port: int = 443
    quota: dict = field(
        default_factory=lambda: {
            "pods": "20",
            "requests.cpu": "8",
            "requests.memory": "32Gi",
            "limits.cpu": "16",
            "limits.memory": "64Gi",
            "persistentvolumeclaims": "2",
            "requests.storage": "20Gi",
            # Node disk: emptyDirs, logs and writable layers of every pod.
            "requests.ephemeral-storage": "40Gi",
            "limits.ephemeral-storage": "80Gi",
            "services": "4",
            "secrets": "20",
            "configmaps": "20",
        }
    )

    #: Priority classes user pods may name (images/k8s/user-pod-policy.yaml
    #: lists the same); add the cluster's globalDefault class if it has one.
    priority_classes: list = field(default_factory=lambda: ["quarry-user"])

    @classmethod
    def from_env(cls, env=os.environ) -> "TenancySettings":
        settings = cls(
            hub_namespace=env.get("POD_NAMESPACE", env.get("QUARRY_HUB_NAMESPACE", "quarry")),
            s3_namespace=env.get("QUARRY_S3_NAMESPACE", "minio"),
            s3_port=int(env.get("QUARRY_S3_PORT", "9000")),
            api_server_cidr=env.get("QUARRY_KUBE_API_CIDR", "10.0.0.1/32"),
            api_server_port=int(env.get("QUARRY_KUBE_API_PORT", "443")),
        )
        if env.get("QUARRY_USER_QUOTA"):
            settings.quota = json.loads(env["QUARRY_USER_QUOTA"])
        if env.get("QUARRY_PRIORITY_CLASSES"):
            settings.priority_classes = [c.strip() for c in env["QUARRY_PRIORITY_CLASSES"].split(",") if c.strip()]
        return settings


_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


def label_value(username: str) -> str:
    """A Kubernetes label value for a user name (`quarry.io/user`).

    A valid value (at most 63 of `A-Za-z0-9._-`, alphanumeric at both ends)
    is the name itself; any other name — `jane.doe@example.org`, a long or
    non-ASCII one — keeps its valid characters (others become `_`, cut to
    54) and gets `-` and the FNV-1a 32-bit hash of its UTF-8 bytes, so two
    names never share a value. quarry-spark's `label_value` is the same
    mapping (tests/fixtures/label-values.json holds both to it).
    """
    if _LABEL_VALUE.match(username):
        return username
    mapped = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in username)
    mapped = mapped.strip("-_.")[:54].rstrip("-_.")
    digest = 0x811C9DC5
    for byte in username.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{mapped or 'u'}-{digest:08x}"


def _meta(name, namespace, username, **extra):
    labels = {"app.kubernetes.io/part-of": "quarry", "quarry.io/user": label_value(username)}
    meta = {"name": name, "labels": labels, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _policy(name, namespace, username, selector, types, ingress=None, egress=None):
    spec = {"podSelector": selector, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace, username),
        "spec": spec,
    }


NOTEBOOK = {"matchLabels": {"component": "singleuser-server"}}
#: The label z2jh's hub NetworkPolicy admits (on pods, and with
#: `interNamespaceAccessLabels: accept` on their namespace).
HUB_ACCESS_LABEL = "hub.jupyter.org/network-access-hub"
EXECUTORS = {"matchLabels": {"app.kubernetes.io/managed-by": "quarry"}}


def network_policies(namespace: str, username: str, settings: TenancySettings) -> list[dict]:
    """Default deny, then exactly the paths Quarry needs. A podSelector
    without a namespaceSelector means "in this namespace", i.e. this user's."""
    first, last = DRIVER_PORTS
    hub_pods = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.hub_namespace}},
        "podSelector": {"matchExpressions": [{"key": "component", "operator": "In", "values": ["hub", "proxy"]}]},
    }
    dns = {
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    s3 = {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.s3_namespace}}}],
        "ports": [{"protocol": "TCP", "port": settings.s3_port}],
    }
    own_pods = {"to": [{"podSelector": {}}]}
    return [
        _policy("default-deny", namespace, username, {}, ["Ingress", "Egress"]),
        _policy(
            "notebook-ingress",
            namespace,
            username,
            NOTEBOOK,
            ["Ingress"],
            ingress=[
                {"from": [hub_pods], "ports": [{"protocol": "TCP", "port": 8888}]},
                {
                    "from": [{"podSelector": EXECUTORS}],
                    "ports": [{"protocol": "TCP", "port": first, "endPort": last}],
                },
            ],
        ),
        _policy(
            "notebook-egress",
            namespace,
            username,
            NOTEBOOK,
            ["Egress"],
            egress=[
                dns,
                s3,
                own_pods,
                {"to": [hub_pods], "ports": [{"protocol": "TCP", "port": 8081}]},
                {
                    "to": [{"ipBlock": {"cidr": settings.api_server_cidr}}],
                    "ports": [{"protocol": "TCP", "port": settings.api_server_port}],
                },
            ],
        ),
        _policy(
            "executors",
            namespace,
            username,
            EXECUTORS,
            ["Ingress", "Egress"],
            ingress=[{"from": [{"podSelector": NOTEBOOK}, {"podSelector": EXECUTORS}]}],
            egress=[dns, s3, own_pods],
        ),
    ]


def user_namespace_objects(namespace: str, username: str, settings: TenancySettings | None = None) -> list[dict]:
    """Every object of one user's namespace, in the order they are applied."""
    settings = settings or TenancySettings()
    psa = {
        f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
    } | {f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "audit", "warn")}
    namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace, None, username)}
    namespace_object["metadata"]["labels"].update(psa)
    # z2jh's hub NetworkPolicy (interNamespaceAccessLabels: accept) lets in
    # labelled pods from namespaces labelled so: the notebook's ID-token call.
    namespace_object["metadata"]["labels"][HUB_ACCESS_LABEL] = "true"
    return [
        namespace_object,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(SERVICE_ACCOUNT, namespace, username),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(SERVICE_ACCOUNT, namespace, username),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SPARK_CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta("quarry-user", namespace, username),
            "spec": {"hard": dict(settings.quota)},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": _meta("quarry-user", namespace, username),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "4Gi"},
                        "defaultRequest": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
                        "max": {"cpu": "4", "memory": "16Gi", "ephemeral-storage": "20Gi"},
                    }
                ]
            },
        },
        {
            # No pod with a priority class but the platform's: a class that
            # preempts would evict other tenants (the admission policy
            # refuses it too; this holds where policies are not installed).
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta("quarry-user-priority", namespace, username),
            "spec": {
                "hard": {"pods": "0"},
                "scopeSelector": {
                    "matchExpressions": [
                        {"scopeName": "PriorityClass", "operator": "Exists"},
                        {"scopeName": "PriorityClass", "operator": "NotIn", "values": list(settings.priority_classes)},
                    ]
                },
            },
        },
        *network_policies(namespace, username, settings),
    ]


#: Where each kind lives in the API: (path prefix, plural, namespaced).
_PATHS = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "ResourceQuota": ("/api/v1", "resourcequotas", True),
    "LimitRange": ("/api/v1", "limitranges", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
}


class KubeApi:
    """The few Kubernetes API calls the hub makes, over HTTPS with its own
    service account token (in a pod: the mounted one)."""

    SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

    def __init__(self, url: str, token: str, ca_file: str | None):
        self.url = url.rstrip("/")
        self.token = token
        self.ssl = ssl.create_default_context(cafile=ca_file) if ca_file else None

    @classmethod
    def in_cluster(cls) -> "KubeApi":
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        with open(f"{cls.SERVICE_ACCOUNT_DIR}/token") as f:
            token = f.read().strip()
        return cls(f"https://{host}:{port}", token, f"{cls.SERVICE_ACCOUNT_DIR}/ca.crt")

    async def request(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json") -> dict:
        request = HTTPRequest(
            self.url + path,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
            body=json.dumps(body) if body is not None else None,
            ssl_options=self.ssl,
            request_timeout=20,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body or b"{}")

    async def apply(self, obj: dict) -> None:
        """Creates `obj`, or replaces the one already there (a re-spawn
        brings a changed quota or policy up to date)."""
        prefix, plural, namespaced = _PATHS[obj["kind"]]
        meta = obj["metadata"]
        collection = f"{prefix}/namespaces/{meta['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"
        try:
            await self.request("POST", collection, obj)
        except HTTPClientError as e:
            if e.code != 409:
                raise
            if obj["kind"] == "Namespace":
                # It exists (an earlier spawn, or an administrator made it):
                # bring our labels — Pod Security `restricted` among them —
                # onto it, leaving any others it carries.
                patch = {"metadata": {"labels": meta.get("labels", {})}}
                await self.request("PATCH", f"{collection}/{meta['name']}", patch, "application/merge-patch+json")
                return
            current = await self.request("GET", f"{collection}/{meta['name']}")
            replacement = json.loads(json.dumps(obj))
            replacement["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            await self.request("PUT", f"{collection}/{meta['name']}", replacement)


async def ensure_user_namespace(api: KubeApi, namespace: str, username: str, settings: TenancySettings | None = None):
    """Applies every object of the user's namespace (idempotent)."""
    for obj in user_namespace_objects(namespace, username, settings):
        await api.apply(obj)
