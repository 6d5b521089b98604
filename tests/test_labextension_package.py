"""The labextension installs the way users install it: `pip install` of a
clean copy of `labextension/` (what `git clone` gives: no node_modules, no
prebuilt output), with the venv not activated, only the system's PATH and
build isolation on, builds the frontend inside the wheel build, and the
panel appears in a fresh venv's JupyterLab."""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from playwright.sync_api import expect

from support.browser import Browser, listing_item, open_lab, open_s3_panel
from support.jupyter import JupyterServer, server_env
from support.seaweed import Seaweed

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


def clean_copy(dest: Path) -> Path:
    """The labextension's files as a fresh clone has them (git's list of
    tracked files, so anything ignored — node_modules, lib/, the prebuilt
    extension — stays behind)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--", "labextension"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode().split("\0")
    if not any(files):
        pytest.skip("not a git checkout")
    for name in filter(None, files):
        target = dest / Path(name).relative_to("labextension")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    assert not (dest / "node_modules").exists() and not (dest / "quarry_jupyterlab" / "labextension").exists()
    return dest


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def test_api_types_match_openapi():
    """src/panel/api-types.ts is committed (a clean copy builds without the Rust
    tree beside it) and must be what openapi.json generates."""
    generated = subprocess.run(
        ["npx", "--no-install", "openapi-typescript", "../crates/quarry-server/openapi.json"],
        cwd=LABEXTENSION, capture_output=True, text=True, check=True,
    ).stdout
    committed = (LABEXTENSION / "src" / "panel" / "api-types.ts").read_text()
    assert generated.strip() == committed.strip(), "run `npm run build:api` in labextension/ and commit src/panel/api-types.ts"


def test_a_wheel_without_the_frontend_cannot_be_built(tmp_path):
    copy = clean_copy(tmp_path / "labextension")
    env = {**os.environ, "HATCH_JUPYTER_BUILDER_SKIP_NPM": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "out"), str(copy)],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode != 0, "a wheel without the prebuilt extension was built"
    assert "quarry_jupyterlab/labextension" in done.stdout + done.stderr
    assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True


def test_pip_install_of_a_clean_copy_gives_a_working_panel(tmp_path, oidc, quarry_bin):
    copy = clean_copy(tmp_path / "labextension")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # As a Dockerfile runs it: the venv not activated (its interpreter by
    # full path), a PATH of the system's directories only (Node and npm
    # live there), build isolation on — so every tool the build calls must
    # come from the package's own build requirements. The runtime versions
    # are the ones the rest of the suite uses (and pip's cache holds).
    system_only = {"HOME": os.environ["HOME"], "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    assert not any(Path(d, "jupyter-builder").exists() for d in system_only["PATH"].split(":")), "the system PATH holds a jupyter-builder"
    run([str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "tests" / "requirements.txt"), str(copy)],
        env=system_only, cwd=tmp_path)
    listed = run([str(env_dir / "bin" / "jupyter"), "labextension", "list"], env={**os.environ, "JUPYTER_PATH": ""})
    line = next((l for l in listed.splitlines() if "quarry-jupyterlab" in l), "")
    assert "enabled" in line and "OK" in line, listed

    with Seaweed(tmp_path / "s3", oidc, user_buckets=("data",)) as s3:
        s3.create_bucket("data")
        credentials = s3.assume_role(oidc.mint("alice"))
        env = server_env({**s3.env_for(credentials), "QUARRY_BIN": quarry_bin})
        # Only the fresh venv: its Jupyter, its extensions, its config.
        env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
        env.pop("JUPYTER_PATH", None)
        for name in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_CONFIG_DIR"):
            (tmp_path / name.lower()).mkdir()
            env[name] = str(tmp_path / name.lower())
        home = tmp_path / "home"
        home.mkdir()
        with JupyterServer(env, home, app="lab", python=python) as lab, Browser() as browser:
            page = browser.page()
            open_lab(page, lab.lab_url())
            open_s3_panel(page)
            expect(listing_item(page, "data")).to_be_visible(timeout=30_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "clean-install-panel.png"))
