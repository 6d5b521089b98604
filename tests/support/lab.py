"""JupyterLab as the browser tests run it: its environment (settings kept
out of the user's home, no news popup), screenshots into
tests/artifacts/screenshots/, and running a notebook written for a test."""

import json
from pathlib import Path

from playwright.sync_api import expect

from support.jupyter import server_env

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def lab_env(s3, credentials, quarry_bin, workdir, **extra):
    env = server_env({**s3.env_for(credentials), "QUARRY_BIN": quarry_bin, **extra})
    # Keep JupyterLab's settings and workspaces out of the user's home.
    for name in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_CONFIG_DIR"):
        path = workdir / name.lower()
        path.mkdir(exist_ok=True)
        env[name] = str(path)
    # No "get notified about Jupyter news?" popup over the screenshots.
    notification = workdir / "jupyterlab_settings_dir" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    return env


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def notebook(*sources):
    """A Quarry notebook whose code cells are `sources`."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "quarry", "display_name": "Quarry", "language": "sql"}},
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": f"c{i}", "source": source}
            for i, source in enumerate(sources)
        ],
    }


def run_notebook(page, lab, name, notebook):
    """Writes `notebook` into the server's root, opens it and runs every
    cell; returns the console errors the page logged meanwhile."""
    (lab.root / name).write_text(json.dumps(notebook))
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    # `reset`: only this notebook open, whatever an earlier test left.
    page.goto(lab.lab_url(f"lab/tree/{name}?reset"))
    panel = page.locator(".jp-NotebookPanel:visible")
    # The kernel is connected and idle (the status bar says so), not just
    # the notebook widget drawn.
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(timeout=60_000)
    first_prompt = panel.locator(".jp-CodeCell").first.locator(".jp-InputArea-prompt")
    for _ in range(3):
        panel.locator(".jp-Notebook").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            # "[*]:" while running, "[1]:" once done: either means it started.
            expect(first_prompt).not_to_have_text("[ ]:", timeout=10_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    return panel, errors
