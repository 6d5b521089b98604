"""No tenant can reach another on Kubernetes: each user's namespace, made by
the hub with its own rights (images/hub/quarry_tenancy.py), is the only
place their token works. Checked against the fake API server, which
authorizes every request from the real Role/ClusterRole/binding objects
(images/k8s/ plus what the hub created) and answers with Kubernetes' own
Forbidden texts."""

import asyncio
import sys
from pathlib import Path

import pytest

from support.fake_kube import FakeKube, quarry_tenancy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, quarry_bin):
    with FakeKube(tmp_path_factory.mktemp("tenancy"), quarry_bin, spark_home="/nonexistent") as kube:
        kube.provision_user("bob")
        # Something of alice's worth stealing: her home volume and a secret.
        kube.request("POST", "/api/v1/namespaces/quarry-alice/persistentvolumeclaims",
                     json={"metadata": {"name": "claim-alice"}, "spec": {}}).raise_for_status()
        kube.request("POST", "/api/v1/namespaces/quarry-alice/secrets",
                     json={"metadata": {"name": "alice-token"}, "data": {"token": "c2VjcmV0"}}).raise_for_status()
        yield kube


def as_bob(cluster, method, path, **kwargs):
    token = cluster.service_account_token("quarry-bob", quarry_tenancy.SERVICE_ACCOUNT)
    return cluster.request(method, path, token=token, **kwargs)


BOB = "system:serviceaccount:quarry-bob:quarry-spark"


@pytest.mark.parametrize("resource,name", [("pods", "jupyter-alice"), ("persistentvolumeclaims", "claim-alice"), ("secrets", "alice-token")])
def test_another_users_token_is_refused_in_kubernetes_words(cluster, resource, name):
    base = f"/api/v1/namespaces/quarry-alice/{resource}"
    for method, path, verb, body in [
        ("GET", f"{base}/{name}", "get", None),
        ("GET", base, "list", None),
        ("DELETE", f"{base}/{name}", "delete", None),
        ("PATCH", f"{base}/{name}", "patch", {"metadata": {"labels": {"owned": "bob"}}}),
    ]:
        kwargs = {"json": body, "headers": {"Content-Type": "application/merge-patch+json"}} if body else {}
        response = as_bob(cluster, method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
        status = response.json()
        assert status["reason"] == "Forbidden"
        target = f'{resource} "{name}"' if verb != "list" else resource
        assert status["message"] == (
            f'{target} is forbidden: User "{BOB}" cannot {verb} resource "{resource}" '
            f'in API group "" in the namespace "quarry-alice"'
        )
    # Nothing of alice's changed.
    assert cluster.request("GET", f"{base}/{name}").json()["metadata"].get("labels", {}).get("owned") is None


def test_another_users_namespace_cannot_be_used_to_start_pods_or_read_the_cluster(cluster):
    pod = {"metadata": {"name": "evil"}, "spec": {"containers": [{"name": "x", "image": "busybox"}]}}
    response = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-alice/pods", json=pod)
    assert response.status_code == 403
    assert response.json()["message"] == (
        f'pods is forbidden: User "{BOB}" cannot create resource "pods" in API group "" in the namespace "quarry-alice"'
    )
    for path, resource in [("/api/v1/pods", "pods"), ("/api/v1/namespaces", "namespaces"), ("/api/v1/secrets", "secrets")]:
        response = as_bob(cluster, "GET", path)
        assert response.status_code == 403, path
        assert response.json()["message"].endswith(f'cannot list resource "{resource}" in API group "" at the cluster scope')
    # Nor can a user grant themselves more: RBAC objects are out of reach.
    binding = {"metadata": {"name": "mine"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": "quarry-spark", "namespace": "quarry-bob"}]}
    response = as_bob(cluster, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/quarry-bob/rolebindings", json=binding)
    assert response.status_code == 403


def test_a_users_token_works_in_their_own_namespace_for_spark_only(cluster):
    own = "/api/v1/namespaces/quarry-bob"
    assert as_bob(cluster, "GET", f"{own}/pods").status_code == 200
    # Spark needs pods; it never needs secrets, so the user's token cannot read them.
    assert as_bob(cluster, "GET", f"{own}/secrets").status_code == 403
    assert as_bob(cluster, "GET", f"{own}/pods/x/exec").status_code in (403, 404)


def test_self_subject_access_review_answers_from_the_same_rules(cluster):
    def review(namespace, verb, resource):
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}}
        response = as_bob(cluster, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body)
        assert response.status_code == 201
        return response.json()["status"]["allowed"]

    assert review("quarry-bob", "create", "pods") is True
    assert review("quarry-alice", "create", "pods") is False
    assert review("quarry-bob", "get", "secrets") is False


def test_the_hub_binds_only_the_spark_role(cluster):
    hub = cluster.hub_api()
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "escalate", "namespace": "quarry-bob"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": "quarry-spark", "namespace": "quarry-bob"}]}
    with pytest.raises(Exception) as refused:
        asyncio.run(hub.apply(binding))
    assert getattr(refused.value, "code", None) == 403


def test_provisioning_twice_updates_in_place(cluster):
    # A re-spawn re-applies everything (a changed quota reaches the namespace).
    settings = quarry_tenancy.TenancySettings()
    settings.quota = {**settings.quota, "pods": "7"}
    asyncio.run(quarry_tenancy.ensure_user_namespace(cluster.hub_api(), "quarry-bob", "bob", settings))
    quota = cluster.request("GET", "/api/v1/namespaces/quarry-bob/resourcequotas/quarry-user").json()
    assert quota["spec"]["hard"]["pods"] == "7"
    hub = "system:serviceaccount:quarry:hub"
    used = {(u["verb"], u["resource"]) for u in cluster.uses() if u["user"] == hub}
    assert ("update", "resourcequotas") in used and ("create", "namespaces") in used


def test_a_namespace_that_existed_without_labels_gets_them_at_the_next_spawn(cluster):
    """An administrator (or an older hub) made `quarry-erin` bare: the spawn
    labels it — Pod Security `restricted` included — and keeps its own."""
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "quarry-erin", "labels": {"team": "data"}}}
    assert cluster.request("POST", "/api/v1/namespaces", json=bare).status_code == 201
    asyncio.run(quarry_tenancy.ensure_user_namespace(cluster.hub_api(), "quarry-erin", "erin"))
    labels = cluster.request("GET", "/api/v1/namespaces/quarry-erin").json()["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["quarry.io/user"] == "erin" and labels["team"] == "data"
    hub = "system:serviceaccount:quarry:hub"
    assert ("patch", "namespaces") in {(u["verb"], u["resource"]) for u in cluster.uses() if u["user"] == hub}


def test_each_namespace_enforces_pod_security_restricted(cluster):
    namespace = cluster.request("GET", "/api/v1/namespaces/quarry-bob").json()
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["quarry.io/user"] == "bob"


def network_policy_problems(policies, allowed_namespaces=("quarry", "minio")):
    """What in `policies` would open a user's pods wider than intended: a
    rule without peers (it allows every source or destination), an address
    block for the whole internet, or a namespace selector other than the
    named infrastructure namespaces (and DNS pods by their label)."""
    problems = []
    for policy in policies:
        name = policy["metadata"]["name"]
        for direction, side in (("ingress", "from"), ("egress", "to")):
            for rule in policy["spec"].get(direction, []):
                peers = rule.get(side) or []
                if not peers:
                    problems.append(f"{name}: a {direction} rule with no '{side}' allows everything")
                for peer in peers:
                    cidr = peer.get("ipBlock", {}).get("cidr", "")
                    if cidr.endswith("/0"):
                        problems.append(f"{name}: {cidr}")
                    selector = peer.get("namespaceSelector")
                    if selector is None:
                        continue
                    named = selector.get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    if named and named not in allowed_namespaces:
                        problems.append(f"{name}: namespace {named}")
                    if not named and peer.get("podSelector") != {"matchLabels": {"k8s-app": "kube-dns"}}:
                        problems.append(f"{name}: pods in any namespace")
    return problems


def test_network_policies_deny_by_default_and_never_select_other_namespaces(cluster):
    policies = cluster.request("GET", "/apis/networking.k8s.io/v1/namespaces/quarry-bob/networkpolicies").json()["items"]
    names = {p["metadata"]["name"] for p in policies}
    assert "default-deny" in names
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    # Peers are this namespace's pods, or named infrastructure namespaces
    # (hub, S3, DNS) — never a selector that matches other users' namespaces.
    assert network_policy_problems(policies) == []
    # The check fails on the wrong design.
    open_rule = {"metadata": {"name": "x"}, "spec": {"egress": [{"ports": [{"port": 443}]}], "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}
    anywhere = {"metadata": {"name": "y"}, "spec": {"ingress": [{"from": [{"namespaceSelector": {}}]}]}}
    assert network_policy_problems([open_rule, anywhere]) == [
        "x: 0.0.0.0/0", "x: a egress rule with no 'to' allows everything", "y: pods in any namespace",
    ]


def test_the_hub_hook_prepares_the_namespace_kubespawner_will_use(cluster):
    sys.path.insert(0, str(ROOT / "images" / "hub"))
    import quarry_hub_hook

    class User:
        name = "carol"

    class Log:
        def info(self, *args):
            pass

    class Spawner:
        enable_user_namespaces = True
        namespace = "quarry-carol"
        user = User()
        log = Log()

    asyncio.run(quarry_hub_hook.prepare_namespace(Spawner(), api=cluster.hub_api()))
    binding = cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/quarry-carol/rolebindings/quarry-spark").json()
    assert binding["roleRef"]["name"] == "quarry-spark"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "quarry-spark", "namespace": "quarry-carol"}]
    # Without user namespaces there is nothing to prepare (and no API call).
    Spawner.enable_user_namespaces = False
    Spawner.namespace = "quarry-dave"
    asyncio.run(quarry_hub_hook.prepare_namespace(Spawner(), api=None))
    assert cluster.request("GET", "/api/v1/namespaces/quarry-dave").status_code == 404


def test_pod_security_restricted_refuses_a_privileged_pod_in_kubernetes_words(cluster):
    """Even in their own namespace a user's token cannot start a privileged
    or host-mounting pod: the namespace enforces PSA `restricted`."""
    pod = {"metadata": {"name": "root-shell"}, "spec": {
        "hostPID": True,
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        "containers": [{"name": "sh", "image": "busybox", "securityContext": {"privileged": True}}],
    }}
    response = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-bob/pods", json=pod)
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert message.startswith('pods "root-shell" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostPID=true)')
    assert 'privileged (container "sh" must not set securityContext.privileged=true)' in message
    assert 'volume "host" uses restricted volume type "hostPath"' in message
    assert cluster.request("GET", "/api/v1/namespaces/quarry-bob/pods/root-shell").status_code == 404


def shipped_manifests():
    import yaml

    return [doc for path in sorted((ROOT / "images" / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_shipped_manifests_and_each_users_namespace_pass_checkov():
    from support.checkov import unexplained

    objects = shipped_manifests() + quarry_tenancy.user_namespace_objects("quarry-alice", "alice")
    # No suppressions: every object of the tenancy passes every check.
    assert unexplained(objects, {}) == []


#: Checks the notebook pod fails on purpose, and why.
NOTEBOOK_POD_SUPPRESSED = {
    "CKV_K8S_8": "no liveness probe: the hub watches the server's activity and culls idle servers",
    "CKV_K8S_9": "no readiness probe: the hub waits for the server's own HTTP endpoint before routing to it",
    "CKV_K8S_15": "pull policy IfNotPresent: images are tagged per release, so a cached image is the right one",
    "CKV_K8S_22": "writable root filesystem: JupyterLab, pip installs and the Spark driver write under the image's paths",
    "CKV_K8S_38": "service account token mounted: the Spark driver in this pod creates the user's executor pods with it",
    "CKV_K8S_40": "uid 1000 (the image's jovyan user) is below 10000; PSA restricted only requires non-root",
    "CKV_K8S_43": "image by tag, not digest: the operator pins the digest in values.yaml if they want to",
}


def kubespawner_pod(username, namespace):
    """The notebook pod KubeSpawner makes from the shipped values.yaml (the
    z2jh chart maps singleuser.* onto these KubeSpawner settings)."""
    import tempfile
    from unittest.mock import Mock

    import yaml
    from jupyterhub.objects import Hub, Server
    from kubespawner import KubeSpawner
    from traitlets.config import Config

    values = yaml.safe_load((ROOT / "images" / "hub" / "values.yaml").read_text())
    single = values["singleuser"]
    c = Config()
    for key, value in values["hub"]["config"]["KubeSpawner"].items():
        setattr(c.KubeSpawner, key, value)
    c.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    c.KubeSpawner.service_account = single["serviceAccountName"]
    c.KubeSpawner.uid = 1000  # z2jh's singleuser.uid default
    c.KubeSpawner.fs_gid = 100
    c.KubeSpawner.cpu_limit = float(single["cpu"]["limit"])
    c.KubeSpawner.cpu_guarantee = float(single["cpu"]["guarantee"])
    c.KubeSpawner.mem_limit = single["memory"]["limit"]
    c.KubeSpawner.mem_guarantee = single["memory"]["guarantee"]
    c.KubeSpawner.environment = {k: v for k, v in single["extraEnv"].items() if isinstance(v, str)}
    c.KubeSpawner.volumes = single["storage"]["extraVolumes"]
    c.KubeSpawner.volume_mounts = single["storage"]["extraVolumeMounts"]
    user = Mock()
    user.name = user.escaped_name = username
    user.id = 1
    user.url = f"/user/{username}/"
    user.server = Server()
    user.spawners = {}

    async def manifest():
        spawner = KubeSpawner(config=c, user=user, hub=Hub(), _mock=True)
        spawner.api_token = "hub-token-for-the-pod"
        pod = await spawner.get_pod_manifest()
        assert spawner.namespace == namespace
        return spawner.api.api_client.sanitize_for_serialization(pod)

    # KubeSpawner's client wants a kube config even for a mock spawner.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
        config.write(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "x", "user": {"token": "x"}}],
            "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        }))
        config.flush()
        from kubernetes_asyncio.config import kube_config

        previous = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = config.name
        try:
            pod = asyncio.run(manifest())
        finally:
            kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous
    pod["metadata"]["namespace"] = namespace
    return pod


def test_the_notebook_pod_the_hub_makes_is_admitted_and_holds_no_s3_keys(cluster):
    from support.checkov import unexplained

    namespace = cluster.provision_user("dave")
    pod = kubespawner_pod("dave", namespace)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert key not in env
    assert pod["spec"]["serviceAccountName"] == quarry_tenancy.SERVICE_ACCOUNT
    # The hub creates it in the user's namespace: RBAC and PSA restricted admit it.
    hub = cluster.hub_api()
    created = asyncio.run(hub.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod))
    assert created["metadata"]["name"] == "jupyter-dave"
    # Scanned with its namespace's objects, so the policy graph checks see
    # the network policies that select it.
    objects = [pod, *quarry_tenancy.user_namespace_objects(namespace, "dave")]
    assert unexplained(objects, NOTEBOOK_POD_SUPPRESSED) == []


def test_label_values_are_valid_for_any_user_name_and_match_quarry_spark():
    """One mapping from user names to `quarry.io/user` values, the same in
    the hub (here) and in quarry-spark (its unit test reads the same file)."""
    import json
    import re
    from pathlib import Path

    pairs = json.loads((Path(__file__).parent / "fixtures" / "label-values.json").read_text())["pairs"]
    valid = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
    for pair in pairs:
        assert quarry_tenancy.label_value(pair["user"]) == pair["label"], pair
        assert valid.match(pair["label"]), pair
    assert len({p["label"] for p in pairs}) == len(pairs), "two names never share a value"
    objects = quarry_tenancy.user_namespace_objects("quarry-jane", "jane.doe@example.org")
    assert {o["metadata"]["labels"]["quarry.io/user"] for o in objects} == {"jane.doe_example.org-0e5d060d"}


POLICY_DENIAL = "pods \"{name}\" is forbidden: ValidatingAdmissionPolicy 'quarry-user-pods' with binding 'quarry-user-pods' denied request: "


def restricted_pod(name, image="quarry/spark-executor:4.3.0"):
    """A pod Pod Security `restricted` admits, so only the policy decides."""
    secure = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return {
        "metadata": {"name": name, "labels": {"quarry.io/session": "s1"}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "main", "image": image, "securityContext": secure,
                            "resources": {"limits": {"memory": "1Gi", "cpu": "1"}}}],
        },
    }


def _init_container(pod):
    secure = pod["spec"]["containers"][0]["securityContext"]
    pod["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36", "securityContext": secure}]


POLICY_CASES = {
    "image": (lambda p: p["spec"]["containers"][0].update(image="alpine:3"),
              'container "main" uses image "alpine:3", which is not an image this platform allows'),
    "init-image": (_init_container, 'container "setup" uses image "busybox:1.36", which is not an image this platform allows'),
    "priority": (lambda p: p["spec"].update(priorityClassName="system-node-critical"),
                 'priorityClassName "system-node-critical" is not one a user pod may use (quarry-user)'),
    "node-name": (lambda p: p["spec"].update(nodeName="hub-node"), "spec.nodeName may not be set: the scheduler places user pods"),
    "toleration": (lambda p: p["spec"].update(tolerations=[{"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "core", "effect": "NoSchedule"}]),
                   "a toleration onto nodes user pods may not use; allowed: hub.jupyter.org/dedicated=user,"),
    "secret-volume": (lambda p: p["spec"].update(volumes=[{"name": "t", "secret": {"secretName": "quarry-spark-auth-another-session"}}]),
                      "this pod may use only its Spark session's Secret \"quarry-spark-auth-s1\""),
    "memory": (lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(memory="64Gi"),
               "a container asks for more memory than a user container may have (16Gi)"),
    "ephemeral-storage": (lambda p: p["spec"]["containers"][0]["resources"]["limits"].update({"ephemeral-storage": "500Gi"}),
                          "a container asks for more ephemeral storage than a user container may have (20Gi)"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_the_api_server_refuses_a_users_own_pod_around_the_limits(cluster, case):
    """With only bob's token — as with curl from his terminal — a pod that
    steps around a limit is refused by the API server in Kubernetes' words,
    in his own namespace where he may create pods."""
    change, expected = POLICY_CASES[case]
    name = f"around-{case}"
    pod = restricted_pod(name)
    change(pod)
    response = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-bob/pods", json=pod)
    assert response.status_code == 403, response.text
    status = response.json()
    assert status["reason"] == "Forbidden"
    assert status["message"].startswith(POLICY_DENIAL.format(name=name) + expected), status["message"]
    assert cluster.request("GET", f"/api/v1/namespaces/quarry-bob/pods/{name}").status_code == 404


def test_the_api_server_admits_a_users_pod_within_the_limits_and_refuses_changing_it(cluster):
    pod = restricted_pod("within-limits")
    response = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-bob/pods", json=pod)
    assert response.status_code == 201, response.text
    # An update is admitted by the same policy: the image cannot be swapped later.
    patch = {"spec": {"containers": [{**pod["spec"]["containers"][0], "image": "alpine:3"}]}}
    response = as_bob(cluster, "PATCH", "/api/v1/namespaces/quarry-bob/pods/within-limits", json=patch,
                      headers={"Content-Type": "application/merge-patch+json"})
    # bob's role has no patch on pods: RBAC refuses first; the admin's patch meets the policy.
    assert response.status_code == 403
    response = cluster.request("PATCH", "/api/v1/namespaces/quarry-bob/pods/within-limits", json=patch,
                               headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 403
    assert response.json()["message"].startswith(POLICY_DENIAL.format(name="within-limits") + 'container "main" uses image "alpine:3"')
    assert cluster.request("DELETE", "/api/v1/namespaces/quarry-bob/pods/within-limits").ok


def test_a_priority_class_other_than_the_platforms_exceeds_a_quota_of_zero(cluster):
    """Where policies are not installed the namespace's quota still holds:
    it admits no pod naming another priority class."""
    quota = cluster.request("GET", "/api/v1/namespaces/quarry-bob/resourcequotas/quarry-user-priority").json()
    assert quota["spec"]["hard"] == {"pods": "0"}
    assert {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["quarry-user"]} in quota["spec"]["scopeSelector"]["matchExpressions"]
    limits = cluster.request("GET", "/api/v1/namespaces/quarry-bob/resourcequotas/quarry-user").json()["spec"]["hard"]
    assert limits["limits.ephemeral-storage"] == "80Gi" and limits["requests.ephemeral-storage"] == "40Gi"
    binding_path = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/quarry-user-pods"
    binding = cluster.request("GET", binding_path).json()
    assert cluster.request("DELETE", binding_path).ok
    try:
        pod = restricted_pod("preempting")
        pod["spec"]["priorityClassName"] = "system-node-critical"
        response = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-bob/pods", json=pod)
        assert response.status_code == 403, response.text
        assert response.json()["message"] == (
            'pods "preempting" is forbidden: exceeded quota: quarry-user-priority, requested: pods=1, used: pods=0, limited: pods=0'
        )
        # Pods without a class (or with the platform's) do not count against it.
        plain = as_bob(cluster, "POST", "/api/v1/namespaces/quarry-bob/pods", json=restricted_pod("plain"))
        assert plain.status_code == 201, plain.text
        assert cluster.request("DELETE", "/api/v1/namespaces/quarry-bob/pods/plain").ok
    finally:
        for field in ("uid", "resourceVersion", "creationTimestamp"):
            binding["metadata"].pop(field, None)
        cluster.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", json=binding).raise_for_status()


HUB_SCOPE_DENIAL = "ValidatingAdmissionPolicy 'quarry-hub-scope' with binding 'quarry-hub-scope' denied request: "


def test_the_hubs_cluster_wide_rights_reach_only_user_namespaces(cluster):
    """The hub may create pods and bind the Spark role — in user namespaces.
    With the hub's own token, kube-system is refused by the API server."""
    if not cluster.request("GET", "/api/v1/namespaces/kube-system").ok:
        cluster.request("POST", "/api/v1/namespaces", json={"metadata": {"name": "kube-system"}}).raise_for_status()
    hub = cluster.service_account_token("quarry", "hub")
    pod = restricted_pod("hub-pod", image="registry.example.org/anything:1")
    response = cluster.request("POST", "/api/v1/namespaces/kube-system/pods", token=hub, json=pod)
    assert response.status_code == 403, response.text
    assert response.json()["message"] == (
        f'pods "hub-pod" is forbidden: {HUB_SCOPE_DENIAL}the hub may write only in user namespaces (labelled quarry.io/user), not in "kube-system"'
    )
    patch = {"metadata": {"labels": {"quarry.io/user": "mallory"}}}
    response = cluster.request("PATCH", "/api/v1/namespaces/kube-system", token=hub, json=patch,
                               headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 403, response.text
    assert response.json()["message"] == (
        f'namespaces "kube-system" is forbidden: {HUB_SCOPE_DENIAL}the hub may create or change only user namespaces '
        '(quarry-*, labelled quarry.io/user), not "kube-system"'
    )
    labels = cluster.request("GET", "/api/v1/namespaces/kube-system").json()["metadata"].get("labels", {})
    assert "quarry.io/user" not in labels
    # And no Secret anywhere, its own user namespaces included.
    for namespace in ("kube-system", "quarry-bob"):
        response = cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets", token=hub)
        assert response.status_code == 403, namespace
        assert response.json()["message"] == (
            f'secrets is forbidden: User "system:serviceaccount:quarry:hub" cannot list resource "secrets" '
            f'in API group "" in the namespace "{namespace}"'
        )
