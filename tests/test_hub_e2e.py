"""Login to first S3 query, the platform's whole flow without Kubernetes.

A real OpenID provider (`oidc-provider`, configured with the claims of the
Keycloak realm export) → JupyterHub with GenericOAuthenticator and Quarry's
hub hook → SeaweedFS STS exchanging the user's ID token (MinIO-style policy
claim) → a local single-user JupyterLab with Quarry → queries in a Quarry
notebook, driven by Playwright in headless Chromium. ID tokens live 30 s and
S3 sessions 20 s, so the refresh chain (hub refresh token → pod token file
→ kernel re-assume) runs during the test.
"""

import base64
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from support.browser import Browser
from support.hub import Hub, OidcProvider
from support.seaweed import Seaweed

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
USERS = {
    "alice": {"groups": ["quarry-users"], "policy": "alice-rw"},
    "bob": {"groups": ["quarry-users"], "policy": "bob-rw"},
    "admin": {"groups": ["quarry-users", "quarry-admins"], "policy": "readwrite"},
    "nopolicy": {"groups": ["quarry-users"]},
    "mallory": {"groups": ["contractors"], "policy": "alice-rw"},
}
READINGS = {
    "alice": b"sensor,reading\ns1,10.5\ns2,20.25\ns3,30.0\n",
    "bob": b"sensor,reading\nb1,1.0\nb2,2.0\n",
}
ID_TOKEN_TTL_S = 30


def notebook(own, other):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "quarry", "display_name": "Quarry (SQL · Spark)", "language": "sql"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"SELECT count(*) AS readings FROM 's3://{own}-data/readings.csv'"),
        nbformat.v4.new_code_cell(f"SELECT * FROM 's3://{other}-data/readings.csv'"),
    ]
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hub")
    port = Hub.pick_port()
    provider = OidcProvider(workdir, USERS, Hub.callback_url(port), id_token_ttl=ID_TOKEN_TTL_S)
    try:
        policies = {"alice-rw": ["alice-data"], "bob-rw": ["bob-data"], "readwrite": ["alice-data", "bob-data"]}
        with Seaweed(workdir / "s3", provider, max_session="20s", claim_policies=policies) as s3:
            admin = s3.admin()
            for user, body in READINGS.items():
                s3.create_bucket(f"{user}-data")
                admin.put_object(Bucket=f"{user}-data", Key="readings.csv", Body=body)
            with Hub(
                workdir, port, provider, s3.endpoint,
                auth_refresh_age=5,
                spawner_env={"QUARRY_TOKEN_REFRESH_SECONDS": "3", "QUARRY_LOG": "info"},
            ) as hub:
                for user, other in (("alice", "bob"), ("bob", "alice")):
                    home = hub.home(user)
                    home.mkdir(parents=True, exist_ok=True)
                    (home / "check.ipynb").write_text(notebook(user, other))
                yield hub
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture
def new_page(browser, request):
    pages = []

    def make():
        page = browser.page()
        page.set_default_timeout(60_000)
        pages.append(page)
        return page

    yield make
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(pages):
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{i}.png"))
        page.context.close()


def log_in(page, hub, user):
    page.goto(f"{hub.url}/hub/login")
    page.get_by_text("Sign in with Keycloak").click()
    page.locator("input[name=login]").fill(user)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()


def run_all(page):
    page.get_by_role("menuitem", name="Run").click()
    page.get_by_text("Run All Cells", exact=True).click()


def open_check_notebook(page, hub, user):
    page.goto(f"{hub.url}/user/{user}/lab/tree/check.ipynb")
    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-KernelName")).to_contain_text("Quarry", timeout=60_000)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(timeout=60_000)
    return panel


def jwt_claims(token):
    """The claims of a JWT, unverified (the tests only read them)."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def token_exp(path):
    return jwt_claims(path.read_text())["exp"]


def test_users_query_their_own_bucket_and_are_refused_the_other(hub, new_page):
    for user, other, count in (("alice", "bob", "3"), ("bob", "alice", "2")):
        page = new_page()
        log_in(page, hub, user)
        expect(page).to_have_url(re.compile(f"/user/{user}/lab"), timeout=120_000)
        panel = open_check_notebook(page, hub, user)
        run_all(page)
        cells = panel.locator(".jp-CodeCell")
        own = cells.nth(0).locator(".jp-OutputArea-output table")
        expect(own).to_be_visible()
        expect(own.locator("tbody td")).to_have_text([count])
        denied = cells.nth(1).locator(".jp-OutputArea-output")
        expect(denied).to_contain_text(f"Access denied to s3://{other}-data/readings.csv")
        expect(denied).not_to_contain_text("Traceback")
        # The S3 panel acts as the same user.
        expect(page.locator(".quarry-CredentialStatus")).to_contain_text(f"{user} · S3")


def server_environment(user):
    """The environment of `user`'s running single-user server process."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if env.get("JUPYTERHUB_USER") == user and b"jupyterhub-singleuser" in cmdline:
            return env
    raise AssertionError(f"no running server for {user}")


def test_servers_hold_no_s3_keys_and_read_only_their_own_id_token(hub, new_page):
    """Runs after both users' servers were spawned by the test above."""
    import requests

    env = server_environment("alice")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert key not in env, f"{key} is in alice's server environment"
    assert (env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("QUARRY_WEB_IDENTITY_TOKEN_FILE")) and env["AWS_ENDPOINT_URL_STS"]
    api = env["JUPYTERHUB_API_URL"].rstrip("/")
    headers = {"Authorization": f"token {env['JUPYTERHUB_API_TOKEN']}"}
    # Its own current ID token, and nothing more.
    answer = requests.get(f"{api}/quarry/id-token", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"id_token", "expires_at"}
    assert jwt_claims(body["id_token"])["preferred_username"] == "alice"
    # Not the refresh token: auth_state is not readable with the server's token.
    own = requests.get(f"{api}/users/alice", headers=headers, timeout=30)
    assert own.status_code == 200 and not own.json().get("auth_state")
    assert "refresh_token" not in own.text
    # Not another user's anything.
    assert requests.get(f"{api}/users/bob", headers=headers, timeout=30).status_code in (403, 404)
    assert requests.get(f"{api}/quarry/id-token", timeout=30).status_code in (401, 403)
    # A token alice makes for another tool — with her server's very scopes —
    # is not her server's: it cannot fetch her OIDC token.
    page = new_page()
    log_in(page, hub, "alice")
    expect(page).to_have_url(re.compile("/user/alice/lab"), timeout=120_000)
    # The hub's own XSRF cookie (the server sets another under /user/alice/).
    page.goto(f"{hub.url}/hub/token")
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf" and c["path"].startswith("/hub"))
    minted = page.request.post(
        f"{hub.url}/hub/api/users/alice/tokens",
        data={"note": "a third-party tool", "scopes": ["users:activity!user=alice", "read:users!user=alice"]},
        headers={"X-XSRFToken": xsrf},
    )
    assert minted.ok, minted.text()
    narrow = {"Authorization": f"token {minted.json()['token']}"}
    assert requests.get(f"{api}/users/alice", headers=narrow, timeout=30).status_code == 200, "the token works"
    refused = requests.get(f"{api}/quarry/id-token", headers=narrow, timeout=30)
    assert refused.status_code == 403
    assert "Only a user's own running server may ask for the user's ID token." in refused.text
    # Nor does her browser session (cookie) reach it.
    assert page.request.get(f"{hub.url}/hub/api/quarry/id-token").status == 403


def test_credentials_renew_past_token_and_session_expiry(hub, new_page):
    page = new_page()
    log_in(page, hub, "alice")
    expect(page).to_have_url(re.compile("/user/alice/lab"), timeout=120_000)
    token_file = hub.home("alice") / ".local/share/quarry/web-identity-token"
    deadline = time.time() + 30
    while not token_file.exists() and time.time() < deadline:
        time.sleep(0.5)
    first = token_file.read_text()
    panel = open_check_notebook(page, hub, "alice")
    run_all(page)
    expect(panel.locator(".jp-CodeCell").nth(0).locator("tbody td")).to_have_text(["3"])
    # Past the 20 s S3 session and the 30 s ID token: only a refreshed token
    # lets the kernel re-assume.
    time.sleep(ID_TOKEN_TTL_S + 10)
    assert token_file.read_text() != first, "the pod's token file was never refreshed from the hub"
    assert token_exp(token_file) > time.time()
    panel.locator(".jp-CodeCell").nth(0).locator(".jp-OutputArea-output").first.click()
    run_all(page)
    expect(panel.locator(".jp-CodeCell").nth(0).locator("tbody td")).to_have_text(["3"])
    expect(panel.locator(".jp-CodeCell").nth(0).locator(".jp-OutputArea-output")).not_to_contain_text("expired")


def test_admins_see_the_admin_page_and_users_do_not(hub, new_page):
    page = new_page()
    log_in(page, hub, "admin")
    expect(page).to_have_url(re.compile("/user/admin/lab"), timeout=120_000)
    page.goto(f"{hub.url}/hub/admin")
    expect(page.get_by_test_id("user-name-div-alice")).to_be_visible()
    expect(page.get_by_test_id("user-name-div-admin")).to_be_visible()
    # The admin role is quarry-admin, not JupyterHub's admin: it lists users
    # but never reads their auth_state (refresh and ID tokens).
    alice = page.request.get(f"{hub.url}/hub/api/users/alice")
    assert alice.status == 200, alice.text()
    assert "auth_state" not in alice.json() and "refresh_token" not in alice.text()
    other = new_page()
    log_in(other, hub, "bob")
    expect(other).to_have_url(re.compile("/user/bob/lab"), timeout=120_000)
    response = other.goto(f"{hub.url}/hub/admin")
    assert response.status == 403


def test_refusals_at_login_and_spawn_are_explained(hub, new_page):
    outsider = new_page()
    log_in(outsider, hub, "mallory")
    expect(outsider.locator("body")).to_contain_text(re.compile("403|not allowed|Forbidden", re.I))
    page = new_page()
    log_in(page, hub, "nopolicy")
    expect(page.locator("body")).to_contain_text("Your account has no S3 policy", timeout=120_000)
