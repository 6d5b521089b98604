"""One `pip install`: the quarry-jupyter wheel (built by `cargo xtask wheel`,
dev profile) in a clean venv gives Jupyter the Quarry kernel, the S3 panel
and `quarry` on the venv's PATH, with no other install step — installed as
a Dockerfile runs it (the venv not activated, only the system's PATH)."""

import json
import os
import subprocess
import time
import venv
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import Browser, listing_item, open_lab, open_s3_panel
from support.jupyter import JupyterServer

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def fresh_env(home: Path, extra=None):
    """A user's environment with nothing of the test venv in it: the system
    PATH, an empty home, no Jupyter paths or Quarry variables."""
    env = {"HOME": str(home), "PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def installed(quarry_wheel, tmp_path_factory):
    """A clean venv with only the wheel (and what it depends on) installed;
    how long `pip install` took."""
    root = tmp_path_factory.mktemp("wheel-install")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    home = root / "home"
    home.mkdir()
    started = time.monotonic()
    # The dependencies' versions are the suite's (pip's cache holds them).
    run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "-c", str(ROOT / "tests" / "requirements.txt"), str(quarry_wheel)],
        env=fresh_env(home), cwd=root)
    return env_dir, home, time.monotonic() - started


def test_the_wheel_holds_the_binary_kernelspec_extension_and_glue_and_nothing_else(quarry_wheel):
    with zipfile.ZipFile(quarry_wheel) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        spec = json.loads(wheel.read(next(n for n in names if n.endswith("kernels/quarry/kernel.json"))))
    (data,) = {n.split("/")[0] for n in names if ".data/" in n}
    expected = {
        f"{data}/scripts/quarry",
        f"{data}/data/share/jupyter/kernels/quarry/kernel.json",
        f"{data}/data/share/jupyter/kernels/quarry/logo-64x64.png",
        f"{data}/data/share/jupyter/labextensions/quarry-jupyterlab/package.json",
        f"{data}/data/share/jupyter/labextensions/quarry-jupyterlab/install.json",
        f"{data}/data/etc/jupyter/jupyter_server_config.d/quarry_jupyterlab.json",
        "quarry_jupyterlab/__init__.py",
        "quarry_jupyterlab/__main__.py",
        "quarry_jupyterlab/binary.py",
        "quarry_jupyterlab/token_refresh.py",
    }
    assert expected <= set(names), expected - set(names)
    # At most: the package, the staged data and the metadata — no sources,
    # node_modules or test files.
    allowed = ("quarry_jupyterlab/", f"{data}/scripts/quarry", f"{data}/data/share/jupyter/", f"{data}/data/etc/jupyter/", data.replace(".data", ".dist-info/"))
    stray = [n for n in names if not n.startswith(allowed)]
    assert not stray, stray
    assert not [n for n in names if "node_modules" in n or n.endswith((".ts", ".tsx", ".pyc"))]
    assert "quarry=quarry_jupyterlab:setup_quarry_server" in entry_points.replace(" ", "")
    assert spec["argv"][:3] == ["python", "-m", "quarry_jupyterlab"] and spec["language"] == "sql"
    size = quarry_wheel.stat().st_size
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "wheel-size.txt").write_text(f"{quarry_wheel.name}: {size / 1e6:.1f} MB\n")
    print(f"wheel: {quarry_wheel.name}, {size / 1e6:.1f} MB")


def test_quarry_runs_from_the_venvs_bin(installed):
    env_dir, home, _ = installed
    out = run([str(env_dir / "bin" / "quarry"), "--version"], env=fresh_env(home))
    assert out.startswith("quarry "), out


def test_jupyter_lists_the_kernel_the_extension_and_the_token_refresher(installed):
    env_dir, home, _ = installed
    jupyter = str(env_dir / "bin" / "jupyter")
    specs = json.loads(run([jupyter, "kernelspec", "list", "--json"], env=fresh_env(home)))["kernelspecs"]
    assert Path(specs["quarry"]["resource_dir"]) == env_dir / "share/jupyter/kernels/quarry"
    assert specs["quarry"]["spec"]["display_name"] == "Quarry (SQL · Spark)"
    listed = run([jupyter, "labextension", "list"], env=fresh_env(home))
    line = next((l for l in listed.splitlines() if "quarry-jupyterlab" in l), "")
    assert "enabled" in line and "OK" in line and "quarry-jupyter" in line, listed
    servers = run([jupyter, "server", "extension", "list"], env=fresh_env(home))
    assert "quarry_jupyterlab.token_refresh" in servers and "enabled" in servers, servers


def test_jupyter_lab_shows_the_s3_panel_and_runs_a_quarry_cell(installed, seaweed, oidc, tmp_path):
    env_dir, home, pip_seconds = installed
    credentials = seaweed.assume_role(oidc.mint("alice"))
    settings = {}
    for name in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_CONFIG_DIR"):
        (tmp_path / name.lower()).mkdir()
        settings[name] = str(tmp_path / name.lower())
    # No QUARRY_BIN and no venv on PATH: the kernelspec and the panel's
    # proxy find the binary the wheel installed by themselves.
    env = fresh_env(home, {**seaweed.env_for(credentials), **settings})
    assert "QUARRY_BIN" not in env and str(env_dir) not in env["PATH"]
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    started = time.monotonic()
    with JupyterServer(env, notebooks, app="lab", python=env_dir / "bin" / "python") as lab, Browser() as browser:
        page = browser.page()
        open_lab(page, lab.lab_url())
        page.locator('.jp-LauncherCard[data-category="Notebook"]').filter(has_text="Quarry").first.click()
        panel = page.locator(".jp-NotebookPanel:visible")
        expect(panel).to_have_count(1, timeout=30_000)
        # The kernel the wheel's kernelspec starts, ready.
        expect(page.get_by_text("Quarry (SQL · Spark) | Idle")).to_be_visible(timeout=60_000)
        editor = panel.locator(".jp-Cell .cm-content").first
        editor.click()
        page.keyboard.type("SELECT 40 + 2 AS answer")
        expect(editor).to_contain_text("SELECT 40 + 2 AS answer")
        page.keyboard.press("Shift+Enter")
        expect(panel.locator(".jp-OutputArea-output").first).to_contain_text("42", timeout=60_000)
        answered = time.monotonic() - started
        open_s3_panel(page)
        expect(listing_item(page, "data")).to_be_visible(timeout=30_000)
        (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "screenshots" / "wheel-install.png"))
    report = (
        f"pip install of the wheel: {pip_seconds:.1f} s; JupyterLab start to the first Quarry cell answered: "
        f"{answered:.1f} s; together {pip_seconds + answered:.1f} s\n"
    )
    with open(ARTIFACTS / "wheel-size.txt", "a") as out:
        out.write(report)
    print(report)
