"""The S3 panel in a real browser: JupyterLab + the prebuilt extension (as
pip installed it) + the backend behind jupyter-server-proxy + SeaweedFS with
STS credentials, driven by Playwright in headless Debian Chromium.

JupyterLab runs under a JupyterHub-style base URL (`/user/alice/`). Each
test leaves a screenshot in tests/artifacts/screenshots/.
"""

import datetime
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from support.browser import (
    Browser,
    context_menu,
    listing_item,
    listing_names,
    open_folder,
    open_lab,
    open_s3_panel,
    toast,
)
from support.jupyter import JupyterServer
from support.lab import lab_env, run_notebook, screenshot
from support.seaweed import Seaweed

READINGS = b"sensor,reading\ns1,10.5\ns2,20.25\ns3,30.0\n"
BIG = 1200  # objects under data/big/: three pages of 500


@pytest.fixture(scope="module")
def platform(oidc, tmp_path_factory, quarry_bin):
    workdir = tmp_path_factory.mktemp("panel-ui")
    with Seaweed(workdir / "s3", oidc, user_buckets=("data",)) as s3:
        for bucket in ("data", "forbidden"):
            s3.create_bucket(bucket)
        admin = s3.admin()
        admin.put_object(Bucket="data", Key="sensors/readings.csv", Body=READINGS)
        admin.put_object(Bucket="data", Key="sensors/2026/11/day.csv", Body=READINGS)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(
                lambda i: admin.put_object(Bucket="data", Key=f"big/{i:05d}.txt", Body=b"x"),
                range(BIG),
            ))
        credentials = s3.assume_role(oidc.mint("alice"))
        home = workdir / "home"
        home.mkdir()
        env = lab_env(s3, credentials, quarry_bin, workdir, JUPYTERHUB_USER="alice")
        with JupyterServer(env, home, app="lab", base_url="/user/alice/") as lab:
            yield lab, s3


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture
def page(browser, platform, request):
    lab, _ = platform
    page = browser.page()
    # `reset` starts from an empty workspace, whatever the last test opened.
    open_lab(page, lab.lab_url("lab?reset"))
    open_s3_panel(page)
    yield page
    screenshot(page, request.node.name)
    page.context.close()


def test_panel_lists_buckets_under_the_hub_prefix(page, platform):
    lab, _ = platform
    assert "/user/alice/" in page.url
    expect(listing_item(page, "data")).to_be_visible()
    # The status bar names the hub user and counts down the STS expiry.
    status = page.locator(".quarry-CredentialStatus")
    expect(status).to_contain_text(re.compile(r"alice · S3 (\d+ h \d+ min|\d+ min)"))
    expect(status).to_have_class(re.compile("quarry-mod-ok"))


def test_navigate_into_a_prefix_with_breadcrumbs(page):
    open_folder(page, "data", "sensors")
    expect(listing_item(page, "readings.csv")).to_be_visible()
    expect(listing_item(page, "2026")).to_be_visible()
    crumbs = page.locator("#quarry-s3-browser .jp-BreadCrumbs")
    expect(crumbs).to_contain_text("data")
    open_folder(page, "2026", "11")
    expect(listing_item(page, "day.csv")).to_be_visible()
    # Back up two levels with the breadcrumb.
    crumbs.locator(".jp-BreadCrumbs-item", has_text="sensors").click()
    expect(listing_item(page, "readings.csv")).to_be_visible()
    # The size column is there for objects.
    expect(listing_item(page, "readings.csv").locator(".jp-DirListing-itemFileSize")).to_contain_text("B")


def test_load_more_pages_through_a_large_prefix(page):
    open_folder(page, "data", "big")
    bar = page.locator(".quarry-LoadMore")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Showing 500 items")
    assert len(listing_names(page)) == 500
    bar.get_by_role("button", name="Load more").click()
    expect(bar).to_contain_text("Showing 1,000 items")
    bar.get_by_role("button", name="Load more").click()
    expect(bar).to_be_hidden()
    expect(listing_item(page, f"{BIG - 1:05d}.txt")).to_be_attached()
    assert len(listing_names(page)) == BIG
    # The filter box narrows what is loaded.
    page.locator("#quarry-s3-browser .jp-FileBrowser-filterBox input").fill("01199")
    expect(page.locator("#quarry-s3-browser .jp-DirListing-item:visible")).to_have_count(1)
    expect(listing_item(page, "01199.txt")).to_be_visible()


def test_upload_shows_progress_and_lands_in_s3(page, platform, tmp_path):
    _, s3 = platform
    payload = os.urandom(11 * 1024 * 1024 + 17)  # two chunks, one S3 part boundary
    source = tmp_path / "upload-me.bin"
    source.write_bytes(payload)
    open_folder(page, "data", "sensors")
    page.locator("#quarry-s3-browser .quarry-UploadInput").set_input_files(str(source))
    row = page.locator(".quarry-Upload", has_text="upload-me.bin")
    expect(row).to_have_class(re.compile("quarry-mod-done"), timeout=60_000)
    expect(row).to_contain_text("Uploaded 11 MiB")
    expect(listing_item(page, "upload-me.bin")).to_be_visible()
    stored = s3.admin().get_object(Bucket="data", Key="sensors/upload-me.bin")["Body"].read()
    assert stored == payload


def test_dropped_files_go_through_the_panel_uploader(page, platform):
    _, s3 = platform
    open_folder(page, "data", "sensors")
    # Chromium cannot fake an OS drag with file entries, so this drops the
    # way older browsers do (dataTransfer.files, no items): the listing's
    # own drop handler must hand the file to the panel's uploader.
    page.evaluate(
        """() => {
            const file = new File(['dropped,ok\\n1,2\\n'], 'dropped.csv', {type: 'text/csv'});
            const drop = new Event('drop', {bubbles: true, cancelable: true});
            Object.defineProperty(drop, 'dataTransfer', {value: {files: [file], items: null, types: ['Files']}});
            document.querySelector('#quarry-s3-browser .jp-DirListing-content').dispatchEvent(drop);
        }"""
    )
    expect(page.locator(".quarry-Upload", has_text="dropped.csv")).to_have_class(re.compile("quarry-mod-done"))
    expect(listing_item(page, "dropped.csv")).to_be_visible()
    body = s3.admin().get_object(Bucket="data", Key="sensors/dropped.csv")["Body"].read()
    assert body == b"dropped,ok\n1,2\n"


def test_cancel_stops_an_upload_and_leaves_nothing(page, platform, tmp_path):
    _, s3 = platform
    source = tmp_path / "slow.bin"
    source.write_bytes(os.urandom(40 * 1024 * 1024))
    open_folder(page, "data", "sensors")
    # Slow the browser's uploads down so there is time to cancel.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2 * 1024 * 1024,
    })
    page.locator("#quarry-s3-browser .quarry-UploadInput").set_input_files(str(source))
    row = page.locator(".quarry-Upload", has_text="slow.bin")
    expect(row).to_contain_text(re.compile(r"MiB of 40 MiB"), timeout=60_000)
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_class(re.compile("quarry-mod-cancelled"))
    expect(row).to_contain_text("Cancelled")
    admin = s3.admin()
    listed = admin.list_objects_v2(Bucket="data", Prefix="sensors/slow.bin").get("KeyCount", 0)
    assert listed == 0
    # No multipart upload is left behind once the backend aborts it.
    page.wait_for_timeout(2000)
    pending = admin.list_multipart_uploads(Bucket="data", Prefix="sensors/slow.bin").get("Uploads", [])
    assert pending == []


def test_open_a_csv_in_the_editor_and_save_back_to_s3(page, platform):
    _, s3 = platform
    s3.admin().put_object(Bucket="data", Key="sensors/edit-me.csv", Body=READINGS)
    open_folder(page, "data", "sensors")
    context_menu(page, "edit-me.csv", "Open With")
    page.locator(".lm-Menu-item:visible", has_text="Editor").first.click()
    editor = page.locator(".jp-FileEditor .cm-content")
    expect(editor).to_contain_text("s2,20.25")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("s4,40.5\n")
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
    stored = s3.admin().get_object(Bucket="data", Key="sensors/edit-me.csv")["Body"].read()
    assert stored == READINGS + b"s4,40.5\n"


def test_a_notebook_from_s3_is_never_trusted(page, platform):
    """A notebook someone left in a shared bucket claims to be trusted and
    carries a script in an HTML output; opened from the panel, the HTML is
    shown sanitised and the script does not run as the user who opened it."""
    import json

    _, s3 = platform
    probe = '<div class="quarry-trust-probe">rendered</div><script>window.quarryPwned = true;</script>'
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"trusted": True, "kernelspec": {"name": "quarry", "display_name": "Quarry (SQL · Spark)", "language": "sql"}},
        "cells": [{
            "id": "c1", "cell_type": "code", "execution_count": 1, "source": "SELECT 1",
            "metadata": {"trusted": True},
            "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"text/html": probe, "text/plain": "probe"}}],
        }],
    }
    s3.admin().put_object(Bucket="data", Key="shared/trust-me.ipynb", Body=json.dumps(notebook).encode())
    open_folder(page, "data", "shared")
    listing_item(page, "trust-me.ipynb").dblclick()
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output")
    expect(output).to_contain_text("rendered", timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.quarryPwned === undefined")
    assert output.locator("script").count() == 0


def test_query_in_notebook_runs_sql_on_the_object(page):
    open_folder(page, "data", "sensors")
    context_menu(page, "readings.csv", "Query in Notebook")
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").last
    expect(cell.locator(".cm-content")).to_contain_text("SELECT * FROM 's3://data/sensors/readings.csv' LIMIT 100")
    table = cell.locator(".jp-OutputArea-output table")
    expect(table).to_be_visible(timeout=60_000)
    expect(table).to_contain_text("20.25")
    expect(table.locator("tbody tr")).to_have_count(3)
    # The kernel is Quarry's.
    expect(page.locator(".jp-NotebookPanel:visible .jp-KernelName")).to_contain_text("Quarry")
    # A second query goes into the same notebook, below the first.
    context_menu(page, "readings.csv", "Query in Notebook")
    expect(page.locator(".jp-NotebookPanel:visible .jp-CodeCell")).to_have_count(2)
    expect(page.locator(".jp-NotebookPanel:visible .jp-CodeCell").last.locator("table")).to_be_visible(
        timeout=60_000
    )
    # A wider sidebar for the README picture.
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:visible").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    screenshot(page, "panel-and-query")


CHART_NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "quarry", "display_name": "Quarry", "language": "sql"}},
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": f"c{i}", "source": source}
        for i, source in enumerate([
            # Hourly readings for 12 weeks at three sites: a weekly wave.
            "CREATE TABLE readings AS SELECT to_timestamp(1700000000 + value * 3600) AS at, "
            "concat('site-', CAST(value % 3 AS VARCHAR)) AS site, "
            "20 + 5 * sin(value / 168.0 * 6.2832) + (value % 3) * 4 + (value % 11) / 3.0 AS reading "
            "FROM generate_series(1, 2016)",
            "%chart line x=at y=avg(reading) color=site\nSELECT * FROM readings",
            "%chart bar x=site y=sum(reading)\nSELECT * FROM readings",
            "%chart\nSELECT reading FROM readings",
            "%profile readings",
        ])
    ],
}


def test_chart_cells_render_vega_charts(browser, platform):
    lab, _ = platform
    page = browser.page()
    panel, errors = run_notebook(page, lab, "charts.ipynb", CHART_NOTEBOOK)
    cells = panel.locator(".jp-CodeCell")
    for index in (1, 2, 3):
        chart = cells.nth(index).locator(".jp-OutputArea-output .vega-embed")
        expect(chart).to_be_visible(timeout=90_000)
        # Vega drew marks (a canvas or an SVG), not an error box.
        expect(chart.locator("canvas, svg").first).to_be_visible()
    expect(cells.nth(1).locator(".jp-OutputArea-output")).not_to_contain_text("Error")
    cells.nth(1).scroll_into_view_if_needed()
    screenshot(page, "chart-line")
    cells.nth(2).scroll_into_view_if_needed()
    screenshot(page, "chart-bar")
    # The profile: its table, then one small histogram per number/time column.
    profile = cells.nth(4).locator(".jp-OutputArea-output")
    expect(profile.locator("table")).to_contain_text("reading", timeout=90_000)
    expect(profile.locator("table tbody tr")).to_have_count(3)
    expect(profile.locator(".vega-embed").first).to_be_visible()
    profile.locator("table").scroll_into_view_if_needed()
    screenshot(page, "profile")
    vega_errors = [e for e in errors if "vega" in e.lower() or "spec" in e.lower()]
    assert not vega_errors, vega_errors
    page.context.close()


def test_new_folder_rename_and_copy_url(page, platform):
    _, s3 = platform
    open_folder(page, "data")
    page.locator('#quarry-s3-browser .jp-Toolbar-item[data-jp-item-name="new-folder"] button').click()
    rename = page.locator("#quarry-s3-browser .jp-DirListing-editor")
    expect(rename).to_be_visible()
    rename.fill("reports")
    rename.press("Enter")
    expect(listing_item(page, "reports")).to_be_visible()
    keys = [o["Key"] for o in s3.admin().list_objects_v2(Bucket="data", Prefix="reports/").get("Contents", [])]
    assert keys == ["reports/"]
    # Rename a file (a server-side copy + delete in S3).
    s3.admin().put_object(Bucket="data", Key="reports/draft.csv", Body=READINGS)
    open_folder(page, "reports")
    page.locator('#quarry-s3-browser .jp-Toolbar-item[data-jp-item-name="refresh"] button').click()
    context_menu(page, "draft.csv", "Rename")
    rename.fill("final.csv")
    rename.press("Enter")
    expect(listing_item(page, "final.csv")).to_be_visible()
    expect(listing_item(page, "draft.csv")).to_have_count(0)
    keys = sorted(o["Key"] for o in s3.admin().list_objects_v2(Bucket="data", Prefix="reports/")["Contents"])
    assert keys == ["reports/", "reports/final.csv"]
    context_menu(page, "final.csv", "Copy S3 URL")
    expect(toast(page, "Copied s3://data/reports/final.csv")).to_be_visible()


def test_download_returns_the_object(page):
    open_folder(page, "data", "sensors")
    with page.expect_download() as download:
        context_menu(page, "readings.csv", "Download")
    assert Path(download.value.path()).read_bytes() == READINGS


def test_delete_asks_then_removes_a_folder_recursively(page, platform):
    _, s3 = platform
    admin = s3.admin()
    for key in ("trash/a.csv", "trash/deep/b.csv", "trash/deep/deeper/c.csv"):
        admin.put_object(Bucket="data", Key=key, Body=b"x")
    open_folder(page, "data")
    page.locator('#quarry-s3-browser .jp-Toolbar-item[data-jp-item-name="refresh"] button').click()
    listing_item(page, "trash").click()
    page.keyboard.press("Delete")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Delete s3://data/trash/ and everything under it? S3 has no trash")
    dialog.get_by_role("button", name="Delete").click()
    expect(listing_item(page, "trash")).to_have_count(0)
    assert admin.list_objects_v2(Bucket="data", Prefix="trash/").get("KeyCount", 0) == 0


def test_denied_bucket_is_a_clear_toast(page):
    # ListBuckets hides buckets the policy denies, but a shared link can
    # still lead there; the refusal must be one readable sentence.
    page.goto(page.url.split("/lab")[0] + "/lab/tree/S3:forbidden")
    open_s3_panel(page)
    message = toast(page, "Access denied to s3://forbidden/")
    expect(message).to_be_visible()
    expect(message).to_contain_text("your S3 policy does not allow this")
    expect(message).not_to_contain_text(re.compile("Traceback|Error:|\\.js"))
    # A path that is not there says so too: in a toast, or — when
    # JupyterLab's tree route asks to open it as a document before the panel
    # has looked (it depends on timing) — in its "Cannot open" dialog, with
    # the same sentence.
    page.goto(page.url.split("/lab")[0] + "/lab/tree/S3:data/no-such-folder")
    sentence = "s3://data/no-such-folder does not exist"
    dialog = page.locator(".jp-Dialog", has_text=sentence)
    expect(toast(page, sentence).or_(dialog).first).to_be_visible(timeout=30_000)
    if dialog.count():
        expect(dialog).not_to_contain_text(re.compile("Traceback|Error:|\\.js"))
        dialog.locator(".jp-Dialog-button").first.click()
    open_s3_panel(page)


def broken_lab(oidc, workdir, quarry_bin, how):
    """JupyterLab whose S3 credentials already expired and cannot be renewed
    (no web identity token file), or whose S3 endpoint is down."""
    s3 = Seaweed(workdir / "s3", oidc, user_buckets=("data",))
    with s3:
        s3.create_bucket("data")
        credentials = s3.assume_role(oidc.mint("alice"))
    if how == "expired":
        credentials["Expiration"] = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=3)
    else:
        credentials["Expiration"] = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    home = workdir / "home"
    home.mkdir()
    # The S3 server is stopped by now: "expired" fails before any request.
    env = lab_env(s3, credentials, quarry_bin, workdir, JUPYTERHUB_USER="alice")
    return JupyterServer(env, home, app="lab")


@pytest.mark.parametrize(
    "how, toast_text, status_text",
    [
        ("expired", "expired", "no S3 access"),
        ("unreachable", "Could not reach S3 at http://127.0.0.1:", "alice · S3"),
    ],
)
def test_broken_s3_is_explained(browser, oidc, tmp_path, quarry_bin, request, how, toast_text, status_text):
    with broken_lab(oidc, tmp_path, quarry_bin, how) as lab:
        page = browser.page()
        try:
            open_lab(page, lab.lab_url("lab?reset"))
            open_s3_panel(page)
            message = toast(page, toast_text)
            expect(message).to_be_visible()
            expect(message).not_to_contain_text(re.compile("Traceback|Error:|\\.js"))
            status = page.locator(".quarry-CredentialStatus")
            expect(status).to_contain_text(status_text)
            if how == "expired":
                expect(status).to_have_class(re.compile("quarry-mod-error"))
                assert "expired" in status.get_attribute("title")
        finally:
            screenshot(page, request.node.name)
            page.context.close()


def test_the_wheel_installs_an_enabled_prebuilt_extension():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True, text=True, check=True,
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"quarry-jupyterlab v0\.1\.0 enabled\s+OK \(python, quarry-jupyterlab\)", listing), listing


def new_documents(lab, before):
    """Files created in the local home since `before` (JupyterLab's root)."""
    return sorted(p.name for p in lab.root.iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in before)


def menu(page, *labels):
    """Clicks through the menu bar: `menu(page, "File", "New", "Notebook")`."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{labels[0]}$")).click()
    for label in labels[1:]:
        page.locator(".lm-Menu:visible .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")).last.click()


def launcher_card(page, name):
    return page.locator('.jp-LauncherCard[data-category="Notebook"]').filter(has_text=name)


def create_everything(page, lab):
    """The Launcher's Quarry and Python 3 cards, File › New › Notebook and a
    new text file: each opens a document in the local home, none in S3."""
    before = {p.name for p in lab.root.iterdir()}
    launcher_card(page, "Quarry").first.click()
    expect(page.locator(".jp-NotebookPanel:visible")).to_have_count(1, timeout=30_000)
    menu(page, "File", "New Launcher")
    launcher_card(page, "Python 3").first.click()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=".ipynb")).to_have_count(2, timeout=30_000)
    menu(page, "File", "New", "Notebook")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=".ipynb")).to_have_count(3, timeout=30_000)
    # The new notebook asks which kernel: the default one will do.
    select_kernel = page.locator(".jp-Dialog")
    try:
        select_kernel.wait_for(timeout=10_000)
        select_kernel.locator(".jp-Dialog-button.jp-mod-accept").click()
    except PlaywrightTimeout:
        pass
    expect(select_kernel).to_have_count(0)
    menu(page, "File", "New", "Text File")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=".txt")).to_have_count(1, timeout=30_000)
    assert toast(page, "Open a bucket first").count() == 0
    # Saved to disk by the create calls themselves, in the local root.
    deadline = time.monotonic() + 15
    while len(new_documents(lab, before)) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    created = new_documents(lab, before)
    assert len([n for n in created if n.endswith(".ipynb")]) == 3 and len([n for n in created if n.endswith(".txt")]) == 1, created
    for name in created:
        (lab.root / name).unlink()


def test_new_notebooks_and_files_land_in_the_local_home_before_and_after_using_s3(browser, platform, request):
    """A fresh workspace (the S3 browser was added after JupyterLab's own),
    then again after browsing S3 and clicking an object in it: the Launcher
    and File › New always create in JupyterLab's own file browser."""
    lab, _ = platform
    page = browser.page()
    failed = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 and "/quarry/" in r.url else None)
    try:
        open_lab(page, lab.lab_url("lab?reset"))
        create_everything(page, lab)
        # Again from a fresh workspace, this time after working in S3.
        open_lab(page, lab.lab_url("lab?reset"))
        open_s3_panel(page)
        open_folder(page, "data", "sensors")
        listing_item(page, "readings.csv").click()
        open_folder(page, "2026")
        assert failed == [], "no request fails while browsing S3"
        create_everything(page, lab)
    finally:
        screenshot(page, request.node.name)
        page.context.close()
