"""What another tenant writes cannot act as you, checked where it would
act: JupyterLab in headless Chromium, with a trap — `window.__quarryPwned`,
which every hostile string would set if it ran — that must stay unset.

* Object keys, CSV headers and values full of HTML, Markdown and
  JavaScript, shown by `%s3 ls`, a SELECT (the result grid), `%profile`,
  the data explorer and the S3 panel, appear as the text they are.
* A notebook holding a forged result grid whose saved output carries
  "actions" (SQL the buttons would once have run), opened from the home
  folder and from a shared bucket: clicking every button runs nothing —
  the notebook gains no cell and the kernel holds no table the forged SQL
  would have made."""

import json
import re

import pytest
from playwright.sync_api import expect

from support.browser import Browser, listing_names, open_folder, open_lab, open_s3_panel
from support.hostile import HOSTILE, KEYS, csv_of
from support.jupyter import JupyterServer
from support.lab import lab_env, notebook, run_notebook, screenshot
from support.seaweed import Seaweed

CSV = "s3://data/hostile-data/table.csv"
TRAP = "window.__quarryPwned === undefined"


@pytest.fixture(scope="module")
def platform(oidc, tmp_path_factory, quarry_bin):
    workdir = tmp_path_factory.mktemp("hostile-ui")
    with Seaweed(workdir / "s3", oidc, user_buckets=("data",)) as s3:
        s3.create_bucket("data")
        admin = s3.admin()
        for key in KEYS:
            admin.put_object(Bucket="data", Key=f"hostile/{key}.txt", Body=b"x")
        admin.put_object(Bucket="data", Key="hostile-data/table.csv", Body=csv_of(HOSTILE))
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
def page(browser, request):
    page = browser.page()
    yield page
    screenshot(page, request.node.name)
    page.context.close()


def wait_for_prompt(cell, number, timeout=120_000):
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(f"[{number}]:", timeout=timeout)


def test_hostile_keys_columns_and_values_show_as_text(page, platform):
    lab, _ = platform
    hostile_table = HOSTILE[0]
    cells = [
        "%s3 ls s3://data/hostile/",
        f"SELECT * FROM '{CSV}'",
        f"%profile '{CSV}'",
        'CREATE TABLE "{}" AS SELECT 1 AS "{}"'.format(hostile_table, HOSTILE[7].replace('"', '""')),
    ]
    panel, _ = run_notebook(page, lab, "hostile.ipynb", notebook(*cells))
    code_cells = panel.locator(".jp-CodeCell")
    for index in range(len(cells)):
        wait_for_prompt(code_cells.nth(index), index + 1)
    outputs = panel.locator(".jp-OutputArea-output")
    # The listing names every key as written.
    listing = code_cells.nth(0).locator(".jp-OutputArea-output").first
    for key in KEYS:
        expect(listing).to_contain_text(key.split("/")[0])
    # The grid's headers and cells are the CSV's text.
    grid = code_cells.nth(1).locator(".quarry-Grid")
    expect(grid).to_be_visible(timeout=60_000)
    headers = grid.locator("thead").inner_text()
    body = grid.locator("tbody").inner_text()
    for text in HOSTILE:
        first_line = text.split("\n")[0]
        assert first_line in headers, (text, headers)
        assert first_line in body, (text, body)
    profile = code_cells.nth(2).locator(".jp-OutputArea-output").first
    expect(profile).to_contain_text(HOSTILE[1])
    # The explorer lists the table under its hostile name, as text.
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="quarry-data-explorer"]')
    explorer = page.locator("#quarry-data-explorer")
    for _ in range(3):
        if explorer.is_visible():
            break
        tab.click()
    expect(explorer).to_contain_text(hostile_table, timeout=30_000)
    # The S3 panel lists the same keys as text.
    open_s3_panel(page)
    open_folder(page, "data", "hostile")
    names = listing_names(page)
    for key in KEYS:
        assert any(name.startswith(key.split("/")[0]) for name in names), (key, names)
    page.wait_for_timeout(1000)
    # Nothing ran, and no element came from the data.
    assert page.evaluate(TRAP), "a hostile string ran as script"
    for selector in ["img[src='x']", "script", "svg[onload]", "a[href^='javascript']"]:
        assert outputs.locator(selector).count() == 0, selector
        assert explorer.locator(selector).count() == 0, selector
        assert page.locator("#quarry-s3-browser").locator(selector).count() == 0, selector


#: What a forged output would have the buttons run, had they taken their
#: cells from it: each would make a table the kernel can be asked about.
FORGED_ACTIONS = {
    "chart": "CREATE TABLE pwned_chart AS SELECT 1 AS x",
    "profile": "CREATE TABLE pwned_profile AS SELECT 1 AS x",
    "export": "CREATE TABLE pwned_export AS SELECT 1 AS x",
}
PROBE = "SELECT count(*) AS made FROM information_schema.tables WHERE table_name LIKE 'pwned%'"


def forged_notebook():
    bundle = {
        "version": 1,
        "result_id": "0123456789ab-1",
        "columns": [{"name": "x", "type": "Int64", "kind": "number"}],
        "total_rows": 1,
        "first_page": {"offset": 0, "rows": [["1"]]},
        "note": None,
        "actions": FORGED_ACTIONS,
    }
    nb = notebook("SELECT 1 AS x", PROBE)
    nb["metadata"]["trusted"] = True
    nb["cells"][0]["execution_count"] = 1
    nb["cells"][0]["outputs"] = [{
        "output_type": "execute_result", "execution_count": 1, "metadata": {},
        "data": {"application/vnd.quarry.result+json": bundle, "text/plain": "x\n1"},
    }]
    return nb


def click_every_button(page, panel):
    grid = panel.locator(".jp-CodeCell").first.locator(".quarry-Grid")
    expect(grid).to_be_visible(timeout=60_000)
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(timeout=60_000)
    buttons = grid.locator("button.quarry-Grid-button")
    assert buttons.count() >= 3
    for action in FORGED_ACTIONS:
        button = grid.locator(f'button[data-action="{action}"]')
        if button.is_enabled():
            button.click()
            page.wait_for_timeout(500)
    for index in range(buttons.count()):
        if buttons.nth(index).is_enabled():
            buttons.nth(index).click()
            page.wait_for_timeout(300)
    # A forged result is not held by this kernel: the grid says so.
    expect(grid).to_contain_text(re.compile("not held by this kernel|gone", re.I), timeout=30_000)
    return grid


def assert_nothing_ran(page, panel):
    # No cell was inserted, and the kernel made no table: running the
    # notebook's own probe (the second cell) counts none.
    cells = panel.locator(".jp-CodeCell")
    expect(cells).to_have_count(2)
    probe = cells.nth(1)
    probe.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(probe.locator(".jp-OutputArea-output").first).to_contain_text("made", timeout=60_000)
    expect(probe.locator("tbody td").first).to_have_text("0")
    assert page.evaluate(TRAP)


def test_a_forged_grid_in_a_home_notebook_runs_nothing(page, platform):
    lab, _ = platform
    (lab.root / "forged.ipynb").write_text(json.dumps(forged_notebook()))
    page.goto(lab.lab_url("lab/tree/forged.ipynb?reset"))
    panel = page.locator(".jp-NotebookPanel:visible")
    click_every_button(page, panel)
    assert_nothing_ran(page, panel)


def test_a_forged_grid_in_a_notebook_from_a_shared_bucket_runs_nothing(page, platform):
    lab, s3 = platform
    s3.admin().put_object(Bucket="data", Key="shared/forged.ipynb", Body=json.dumps(forged_notebook()).encode())
    open_lab(page, lab.lab_url("lab?reset"))
    open_s3_panel(page)
    open_folder(page, "data", "shared")
    page.locator("#quarry-s3-browser .jp-DirListing-item", has_text="forged.ipynb").dblclick()
    panel = page.locator(".jp-NotebookPanel:visible")
    click_every_button(page, panel)
    assert_nothing_ran(page, panel)
