"""Headless Debian Chromium driven by Playwright, and helpers for the
JupyterLab DOM the panel tests touch."""

import os
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("QUARRY_CHROMIUM", "/usr/bin/chromium")

# A closed network: nothing in Chromium should try to phone home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


class Browser:
    """One Chromium for a test module; `page()` opens a fresh context."""

    def __enter__(self):
        if not Path(CHROMIUM).is_file():
            raise RuntimeError(
                f"{CHROMIUM} is missing: `cargo xtask setup` installs Debian's chromium "
                "(or set QUARRY_CHROMIUM to another Chromium binary)"
            )
        self._playwright = sync_playwright().start()
        self._profile = tempfile.TemporaryDirectory(prefix="quarry-chromium-")
        self.browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        return self

    def __exit__(self, *exc):
        self.browser.close()
        self._playwright.stop()
        self._profile.cleanup()

    def page(self, **context_options) -> Page:
        context = self.browser.new_context(
            viewport={"width": 1400, "height": 860},
            accept_downloads=True,
            **context_options,
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page


def open_lab(page: Page, url: str):
    """Loads JupyterLab and waits until it is interactive."""
    page.goto(url)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector(".jp-LauncherCard", timeout=60_000)


def open_s3_panel(page: Page):
    """Shows the S3 panel (clicking its tab when open would close it)."""
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="quarry-s3-browser"]')
    tab.wait_for()
    panel = page.locator("#quarry-s3-browser")
    # JupyterLab may still be restoring its layout (and with it this
    # panel) when the tab appears: a click then would close it again.
    for _ in range(3):
        if panel.is_visible():
            break
        tab.click()
        try:
            expect(panel).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            continue
    expect(panel).to_be_visible()


def listing_item(page: Page, name: str):
    """The row for `name` in the S3 panel's listing."""
    return page.locator("#quarry-s3-browser .jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def listing_names(page: Page):
    return page.locator("#quarry-s3-browser .jp-DirListing-item .jp-DirListing-itemText").all_inner_texts()


def open_folder(page: Page, *names):
    for name in names:
        listing_item(page, name).dblclick()
        expect(page.locator("#quarry-s3-browser .jp-BreadCrumbs")).to_contain_text(name)


def context_menu(page: Page, name: str, entry: str):
    """Right-clicks `name` in the panel and picks `entry`."""
    listing_item(page, name).click(button="right")
    page.locator(".lm-Menu-item:visible").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(entry)}$"))
    ).first.click()


def toast(page: Page, text):
    return page.locator(".Toastify__toast").filter(has_text=text)
