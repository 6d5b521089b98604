"""The z2jh values and the Keycloak realm export in images/hub/ are what the
chart and Keycloak accept, and agree with each other and with the hook."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "images" / "hub"
CHART = ROOT / "tests" / "vendor" / "z2jh"
SCHEMA = CHART / "values.schema.yaml"


def merged(defaults, overrides):
    """Helm's merge of user values over the chart's defaults."""
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return overrides
    out = dict(defaults)
    for key, value in overrides.items():
        out[key] = merged(defaults.get(key), value) if key in defaults else value
    return out


def deployed_values():
    """values.yaml as `helm --set-file` completes it (see its header)."""
    values = yaml.safe_load((HUB / "values.yaml").read_text())
    files = values["hub"]["extraFiles"]
    files["quarry-hook"]["stringData"] = (HUB / "quarry_hub_hook.py").read_text()
    files["quarry-config"]["stringData"] = (HUB / "quarry_config.py").read_text()
    files["quarry-tenancy"]["stringData"] = (HUB / "quarry_tenancy.py").read_text()
    return values


def test_values_validate_against_the_chart_schema():
    # As `helm install` does: the chart's defaults merged with ours.
    schema = yaml.safe_load(SCHEMA.read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(merged(defaults, deployed_values()), schema)
    # And the schema does catch mistakes (it is not vacuous).
    broken = deployed_values()
    broken["singleuser"]["storage"]["capcity"] = "10Gi"
    with pytest.raises(jsonschema.ValidationError, match="capcity"):
        jsonschema.validate(merged(defaults, broken), schema)


def test_values_wire_the_hook_and_the_platform_choices():
    values = deployed_values()
    hub = values["hub"]
    config = hub["config"]
    assert config["JupyterHub"]["authenticator_class"] == "generic-oauth"
    # One origin per user: another user's page cannot call this user's server.
    assert config["JupyterHub"]["subdomain_host"].startswith("https://")
    oauth = config["GenericOAuthenticator"]
    assert oauth["username_claim"] == "preferred_username"
    # Administrators get quarry-admin, never JupyterHub's built-in admin
    # role (its admin:users includes admin:auth_state).
    assert "admin_groups" not in oauth and "admin_users" not in config.get("Authenticator", {})
    admin = hub["loadRoles"]["quarry-admin"]
    assert admin["groups"] == ["quarry-admins"]
    assert not {"admin:users", "admin:auth_state", "tokens", "access:servers", "inherit"} & set(admin["scopes"]), admin
    assert config["Authenticator"]["enable_auth_state"] is True
    mounts = {f["mountPath"] for f in hub["extraFiles"].values()}
    assert "/usr/local/etc/jupyterhub/quarry/quarry_hub_hook.py" in mounts
    assert any(m.startswith("/usr/local/etc/jupyterhub/jupyterhub_config.d/") for m in mounts)
    # No role reads auth_state (refresh tokens); pods get only their ID token.
    for role in ("server", "user", "quarry-admin"):
        assert not any("auth_state" in scope for scope in hub["loadRoles"][role]["scopes"]), role
    token_file = hub["extraEnv"]["QUARRY_TOKEN_FILE"]
    memory = [v for v in values["singleuser"]["storage"]["extraVolumes"] if v.get("emptyDir", {}).get("medium") == "Memory"]
    mounts_by_name = {m["name"]: m["mountPath"] for m in values["singleuser"]["storage"]["extraVolumeMounts"]}
    assert any(token_file.startswith(mounts_by_name[v["name"]] + "/") for v in memory), token_file
    spawner = config["KubeSpawner"]
    assert spawner["enable_user_namespaces"] is True and "{username}" in spawner["user_namespace_template"]
    assert "/usr/local/etc/jupyterhub/quarry/quarry_tenancy.py" in mounts
    user = values["singleuser"]
    assert user["serviceAccountName"] == "quarry-spark"
    for limit in ("QUARRY_SPARK_IMAGES", "QUARRY_SPARK_MAX_EXECUTORS", "QUARRY_SPARK_MAX_EXECUTOR_MEMORY"):
        assert user["extraEnv"][limit], limit
    assert user["storage"]["capacity"] == "10Gi"
    assert len(user["profileList"]) >= 2 and sum(p.get("default", False) for p in user["profileList"]) == 1


def test_realm_export_matches_the_hub_client():
    realm = json.loads((HUB / "keycloak-realm.json").read_text())
    oauth = deployed_values()["hub"]["config"]["GenericOAuthenticator"]
    assert realm["realm"] == "quarry" and realm["enabled"] is True
    assert f"/realms/{realm['realm']}/" in oauth["token_url"]
    (client,) = [c for c in realm["clients"] if c["clientId"] == oauth["client_id"]]
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert any(uri.endswith("/hub/oauth_callback") for uri in client["redirectUris"])
    mappers = {m["config"]["claim.name"]: m for m in client["protocolMappers"]}
    assert mappers["groups"]["protocolMapper"] == "oidc-group-membership-mapper"
    assert mappers["groups"]["config"]["full.path"] == "false"
    assert mappers["policy"]["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    for mapper in mappers.values():
        assert mapper["config"]["id.token.claim"] == "true"
    groups = {g["name"] for g in realm["groups"]}
    assert set(oauth["allowed_groups"]) <= groups
    assert set(deployed_values()["hub"]["loadRoles"]["quarry-admin"]["groups"]) <= groups
    for user in realm["users"]:
        assert user["attributes"]["policy"], user["username"]
        assert {g.strip("/") for g in user["groups"]} <= groups


def test_only_administrators_may_set_a_users_minio_policy():
    """The `policy` attribute decides which buckets a user's S3 credentials
    reach, so the realm's user profile lets admins alone view or edit it."""
    realm = json.loads((HUB / "keycloak-realm.json").read_text())
    (provider,) = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    assert attributes["policy"]["permissions"] == {"view": ["admin"], "edit": ["admin"]}
    # Unlisted attributes cannot be edited by users either.
    assert profile["unmanagedAttributePolicy"] in ("ADMIN_VIEW", "ADMIN_EDIT")
    # Users still manage their own name and email.
    assert "user" in attributes["email"]["permissions"]["edit"]



def test_the_values_spawn_under_pod_security_restricted_and_reach_the_hub():
    """What the chart adds for these values must pass PSA `restricted` in a
    user namespace: no privileged iptables init container (the tenancy
    egress policy blocks the cloud metadata address instead), and the hub's
    NetworkPolicy admits notebook pods from the labelled user namespaces."""
    import sys

    sys.path.insert(0, str(HUB))
    import quarry_tenancy

    values = deployed_values()
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert values["hub"]["networkPolicy"]["interNamespaceAccessLabels"] == "accept"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    labels = merged(defaults, values)["singleuser"]["extraLabels"]
    assert labels[quarry_tenancy.HUB_ACCESS_LABEL] == "true", "the pod carries the access label"
    objects = quarry_tenancy.user_namespace_objects("quarry-alice", "alice")
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"][quarry_tenancy.HUB_ACCESS_LABEL] == "true"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # The metadata address is outside every egress rule the notebook has.
    egress = next(o for o in objects if o["metadata"]["name"] == "notebook-egress")["spec"]["egress"]
    blocks = [peer["ipBlock"]["cidr"] for rule in egress for peer in rule.get("to", []) if "ipBlock" in peer]
    import ipaddress

    metadata = ipaddress.ip_address("169.254.169.254")
    assert blocks and not any(metadata in ipaddress.ip_network(cidr) for cidr in blocks), blocks
    assert all(rule.get("to") for rule in egress), "an egress rule without `to` allows everything"
