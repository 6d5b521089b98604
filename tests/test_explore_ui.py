"""Exploring in a real browser: the result grid, the data explorer and the
S3 panel's go-to, search, pins and preview, in JupyterLab with the extension as pip installed it, the Quarry
kernel, and a million rows in SeaweedFS read with STS credentials — driven
by Playwright in headless Debian Chromium. Answers are checked against
pyarrow computing the same thing from the same file."""

import io
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from support.browser import Browser, listing_item, open_folder, open_lab, open_s3_panel
from support.jupyter import JupyterServer
from support.lab import lab_env, notebook, run_notebook, screenshot
from support.seaweed import Seaweed
from support.spark import spark_home

ROWS = 1_000_000
SITES = ["x", "north", "south", "east", "west", "harbour", "hill"]
URL = "s3://data/grid/readings.parquet"
MANY = 5_000  # objects under data/many/
# A MinIO-style grant: alice may list and read shared/team/, which
# ListBuckets therefore does not show her.
SHARED_TEAM = [
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::shared/*"]},
    {
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["arn:aws:s3:::shared"],
        "Condition": {"StringLike": {"s3:prefix": ["team/*"]}},
    },
]


def readings():
    """A million readings: a permutation of values (so the maximum is not
    near the start), seven sites."""
    ids = pa.array(range(1, ROWS + 1), pa.int64())
    reading = pc.divide(pc.cast(pc.remainder(pc.multiply(ids, 7919), 1_000_003), pa.float64()), 100.0)
    site = pc.take(pa.array(SITES), pc.remainder(ids, len(SITES)))
    return pa.table({"id": ids, "reading": reading, "site": site})


@pytest.fixture(scope="module")
def platform(oidc, tmp_path_factory, quarry_bin):
    workdir = tmp_path_factory.mktemp("explore-ui")
    table = readings()
    with Seaweed(workdir / "s3", oidc, user_buckets=("data",), extra_statements=SHARED_TEAM) as s3:
        for bucket in ("data", "shared"):
            s3.create_bucket(bucket)
        admin = s3.admin()
        body = io.BytesIO()
        pq.write_table(table, body, row_group_size=250_000)
        admin.put_object(Bucket="data", Key="grid/readings.parquet", Body=body.getvalue())
        admin.put_object(Bucket="shared", Key="team/notes.csv", Body=b"who,what\nalice,grid\n")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(
                lambda i: admin.put_object(Bucket="data", Key=f"many/obj-{i:05d}.txt", Body=f"object {i}\n".encode()),
                range(MANY),
            ))
        credentials = s3.assume_role(oidc.mint("alice"))
        home = workdir / "home"
        home.mkdir()
        env = lab_env(s3, credentials, quarry_bin, workdir, JUPYTERHUB_USER="alice", SPARK_HOME=spark_home())
        with JupyterServer(env, home, app="lab", base_url="/user/alice/") as lab:
            yield lab, table


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture
def page(browser):
    page = browser.page()
    yield page
    page.context.close()


def grid_of(panel, index):
    return panel.locator(".jp-CodeCell").nth(index).locator(".quarry-Grid")


def settled(grid):
    """Waits until the grid is not waiting for the kernel."""
    expect(grid).not_to_have_attribute("data-loading", "true", timeout=60_000)


def cell_text(grid, row, column):
    return grid.locator(f'tbody tr[data-row="{row}"] td').nth(column).inner_text()


def test_the_grid_sorts_filters_and_pages_the_whole_result(page, platform):
    lab, table = platform
    panel, errors = run_notebook(page, lab, "grid.ipynb", notebook(f"SELECT * FROM '{URL}'"))
    grid = grid_of(panel, 0)
    expect(grid.locator(".quarry-Grid-range")).to_have_text("Rows 1–100 of 1,000,000", timeout=90_000)
    expect(grid.locator("tbody tr")).to_have_count(100)
    # Typed headers.
    expect(grid.locator('th[data-column="reading"] .quarry-Grid-type')).to_have_text("Float64")

    # Sort by reading, descending: the first row is the true maximum.
    header = grid.locator('th[data-column="reading"]')
    header.click()
    expect(header).to_have_attribute("data-sort", "ascending")
    settled(grid)
    header.click()
    expect(header).to_have_attribute("data-sort", "descending")
    settled(grid)
    assert float(cell_text(grid, 0, 1)) == pc.max(table["reading"]).as_py()
    screenshot(page, "grid-sorted")

    # Page 3 of that order is rows 201–300.
    grid.locator('[data-action="next"]').click()
    settled(grid)
    grid.locator('[data-action="next"]').click()
    settled(grid)
    expect(grid.locator(".quarry-Grid-range")).to_have_text("Rows 201–300 of 1,000,000")
    order = table.take(pc.sort_indices(table, sort_keys=[("reading", "descending")]))
    assert int(cell_text(grid, 200, 0)) == order["id"][200].as_py()
    assert int(cell_text(grid, 299, 0)) == order["id"][299].as_py()

    # Filter site = 'x': the count shown is pyarrow's.
    site_filter = grid.locator('input[data-column="site"]')
    site_filter.fill("= x")
    site_filter.press("Enter")
    settled(grid)
    matching = pc.sum(pc.equal(table["site"], "x")).as_py()
    expect(grid.locator(".quarry-Grid-range")).to_have_text(
        f"Rows 1–100 of {matching:,} matching (1,000,000 in all)"
    )
    assert {cell_text(grid, i, 2) for i in range(5)} == {"x"}
    screenshot(page, "grid-filtered")

    # "Chart" adds a %chart cell over this result's query, below it, and runs it.
    grid.locator('[data-action="chart"]').click()
    chart_cell = panel.locator(".jp-CodeCell").nth(1)
    expect(chart_cell.locator(".cm-content")).to_contain_text("%chart")
    expect(chart_cell.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=90_000)

    # "Profile" profiles what the grid shows: the filtered rows, not the
    # whole result (its cell lands below the result, above the chart's).
    grid.locator('[data-action="profile"]').click()
    profile_cell = panel.locator(".jp-CodeCell").nth(1)
    expect(profile_cell.locator(".cm-content")).to_contain_text("%profile")
    expect(profile_cell.locator(".cm-content")).to_contain_text("WHERE")
    expect(profile_cell.locator(".jp-OutputArea-output").first).to_contain_text(f"{matching:,}", timeout=90_000)
    assert "1,000,000" not in profile_cell.locator(".jp-OutputArea-output").first.inner_text()
    assert not [e for e in errors if "quarry" in e.lower()], errors


def test_show_all_scrolls_a_million_rows_without_hanging(page, platform):
    lab, table = platform
    panel, _ = run_notebook(page, lab, "all.ipynb", notebook(f"SELECT * FROM '{URL}' ORDER BY id"))
    grid = grid_of(panel, 0)
    expect(grid.locator(".quarry-Grid-range")).to_have_text("Rows 1–100 of 1,000,000", timeout=90_000)
    grid.locator('[data-action="all"]').click()
    expect(grid).to_have_attribute("data-mode", "all")
    settled(grid)
    viewport = grid.locator(".quarry-Grid-viewport")
    # To the very end, then the middle: each window's rows arrive, and the
    # page keeps answering (a hung renderer would time this out).
    for fraction, expected_row in ((1.0, ROWS - 1), (0.5, None)):
        viewport.evaluate(f"v => {{ v.scrollTop = (v.scrollHeight - v.clientHeight) * {fraction}; }}")
        if expected_row is not None:
            last = grid.locator(f'tbody tr[data-row="{expected_row}"]')
            expect(last).not_to_have_class(re.compile("quarry-Grid-loading"), timeout=30_000)
            assert int(last.locator("td").first.inner_text()) == ROWS
        started = time.monotonic()
        page.evaluate("() => 1 + 1")
        assert time.monotonic() - started < 5
    # The middle window's rows arrive in place of the end's. The row number
    # and its first cell are read in one step: the grid redraws on scroll
    # events, so two reads could come from two different windows.
    first_row, first_id = middle_window_first_row(grid)
    assert first_id == first_row + 1
    assert grid.locator("tbody tr").count() < 40, "only the visible window is in the DOM"
    screenshot(page, "grid-show-all")


def middle_window_first_row(grid, timeout=30.0):
    """The (index, id) of the first loaded row once the window is mid-result."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = grid.evaluate(
            """g => {
                const row = g.querySelector('tbody tr:not(.quarry-Grid-loading)');
                return row ? [Number(row.dataset.row), row.querySelector('td').innerText] : null;
            }"""
        )
        if seen and ROWS * 0.4 < seen[0] < ROWS * 0.6:
            return seen[0], int(seen[1])
        time.sleep(0.1)
    raise AssertionError(f"the grid never showed the middle of the result (last first row: {seen})")


def test_after_a_restart_the_grid_says_the_result_is_gone(page, platform):
    lab, _ = platform
    panel, _ = run_notebook(page, lab, "restart.ipynb", notebook(f"SELECT * FROM '{URL}' LIMIT 1000"))
    grid = grid_of(panel, 0)
    expect(grid.locator(".quarry-Grid-range")).to_have_text("Rows 1–100 of 1,000", timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Restart Kernel…$")).first.click()
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    message = grid.locator(".quarry-Grid-message")
    expect(message).to_contain_text("this result is gone", timeout=30_000)
    expect(grid.locator("tbody tr")).to_have_count(0)
    # Sorting now cannot show stale rows either.
    expect(grid.locator('[data-action="next"]')).to_be_disabled()
    grid.locator('th[data-column="id"]').click()
    expect(grid.locator("tbody tr")).to_have_count(0)
    screenshot(page, "grid-gone")


def open_explorer(page):
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="quarry-data-explorer"]')
    explorer = page.locator("#quarry-data-explorer")
    for _ in range(3):
        if explorer.is_visible():
            break
        tab.click()
        try:
            expect(explorer).to_be_visible(timeout=3_000)
        except AssertionError:
            continue
    expect(explorer).to_be_visible()
    return explorer


def wait_for_prompt(cell, number, timeout=120_000):
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(f"[{number}]:", timeout=timeout)


def test_the_explorer_lists_tables_and_spark_views_as_cells_make_them(page, platform):
    lab, _ = platform
    panel, _ = run_notebook(
        page,
        lab,
        "explorer.ipynb",
        notebook(
            f"CREATE TABLE readings AS SELECT * FROM '{URL}' LIMIT 1000",
            "%spark start",
            "%%spark\nCREATE TEMPORARY VIEW trips AS SELECT 1 AS fare, 'a' AS zone",
            "",
        ),
    )
    explorer = open_explorer(page)
    cells = panel.locator(".jp-CodeCell")
    wait_for_prompt(cells.nth(0), 1)
    # The kernel sends the list before the cell's reply: it is there at once.
    table = explorer.locator('.quarry-Explorer-item[data-name="readings"]')
    expect(table).to_be_visible(timeout=1_000)
    expect(table.locator(".quarry-Explorer-kind")).to_have_text("table")
    table.locator(".quarry-Explorer-caret").click()
    expect(table.locator(".quarry-Explorer-columns li")).to_have_count(3)
    expect(table.locator('li[data-column="reading"]')).to_contain_text("Float64")

    # Spark's temporary views appear while the session runs.
    wait_for_prompt(cells.nth(2), 3, timeout=300_000)
    view = explorer.locator('.quarry-Explorer-item[data-name="trips"][data-kind="spark view"]')
    expect(view).to_be_visible(timeout=5_000)
    expect(cells.nth(2).locator(".quarry-Grid")).to_have_count(0)  # a statement: nothing to explore
    view.locator(".quarry-Explorer-caret").click()
    expect(view.locator(".quarry-Explorer-columns li")).to_have_count(2)
    screenshot(page, "explorer")

    # Clicking a name inserts it at the cursor of the active cell.
    last = cells.nth(3)
    last.locator(".cm-content").click()
    page.keyboard.type("SELECT count(*) FROM ")
    table.locator(".quarry-Explorer-name").click()
    expect(last.locator(".cm-content")).to_have_text("SELECT count(*) FROM readings")

    # Its menu writes and runs a query below the active cell.
    table.locator(".quarry-Explorer-line").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="SELECT … LIMIT 100").first.click()
    inserted = panel.locator(".jp-CodeCell").nth(4)
    expect(inserted.locator(".cm-content")).to_have_text("SELECT * FROM readings LIMIT 100")
    expect(inserted.locator(".quarry-Grid .quarry-Grid-range")).to_have_text("Rows 1–100 of 100", timeout=60_000)

    # After %spark stop the views are gone.
    inserted.locator(".cm-content").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("%spark stop")
    page.keyboard.press("Shift+Enter")
    expect(view).to_have_count(0, timeout=60_000)
    expect(explorer.locator('[data-section="Spark views"]')).to_have_count(0)
    expect(table).to_be_visible()


def test_the_s3_panel_goes_anywhere_searches_pins_and_previews(page, platform):
    lab, table = platform
    open_lab(page, lab.lab_url("lab?reset"))
    open_s3_panel(page)
    panel = page.locator("#quarry-s3-browser")
    expect(listing_item(page, "data")).to_be_visible()
    expect(listing_item(page, "shared")).to_have_count(0)  # ListBuckets hides it

    # Go to a prefix the policy grants.
    goto = panel.locator(".quarry-Goto")
    goto.fill("s3://shared/team/")
    goto.press("Enter")
    expect(panel.locator(".jp-BreadCrumbs")).to_contain_text("team")
    expect(listing_item(page, "notes.csv")).to_be_visible()
    # Pin it, go elsewhere, come back through the pin.
    panel.locator(".quarry-Pin").click()
    chip = panel.locator('.quarry-PinChip[data-path="shared/team"]')
    expect(chip).to_have_text("s3://shared/team/")
    goto.fill("s3://data/")
    goto.press("Enter")
    expect(listing_item(page, "many")).to_be_visible()
    chip.click()
    expect(listing_item(page, "notes.csv")).to_be_visible()

    # Search a folder of 5,000 by key prefix, as you type.
    goto.fill("s3://data/many/")
    goto.press("Enter")
    expect(panel.locator(".jp-BreadCrumbs")).to_contain_text("many")
    goto.fill("obj-0499")
    results = panel.locator(".quarry-SearchResult")
    expect(results).to_have_count(10, timeout=10_000)
    expect(panel.locator(".quarry-SearchSummary")).to_have_text("10 starting with “obj-0499”")
    panel.locator('.quarry-SearchResult[data-path="data/many/obj-04997.txt"]').click()
    preview = panel.locator(".quarry-Preview")
    expect(preview.locator(".quarry-Preview-text")).to_have_text("object 4997")
    screenshot(page, "s3-search")

    # Preview a Parquet file: its footer and first rows.
    goto.fill("s3://data/grid/")
    goto.press("Enter")
    listing_item(page, "readings.parquet").click()
    expect(preview.locator(".quarry-Preview-summary")).to_have_text("1,000,000 rows · 4 row groups", timeout=30_000)
    expect(preview.locator(".quarry-Preview-schema tbody tr")).to_have_count(3)
    reading = preview.locator('.quarry-Preview-schema tr[data-column="reading"] td')
    expect(reading.nth(1)).to_have_text("Float64")
    assert float(reading.nth(4).inner_text()) == pc.max(table["reading"]).as_py()
    expect(preview.locator(".quarry-Preview-rows tbody tr")).to_have_count(20)
    # The file's first rows, in order.
    expect(preview.locator(".quarry-Preview-rows tbody tr").first.locator("td").first).to_have_text("1")
    screenshot(page, "s3-preview")
    preview.locator('[data-action="query"]').click()
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").last
    expect(cell.locator(".quarry-Grid .quarry-Grid-range")).to_have_text("Rows 1–100 of 100", timeout=60_000)
