"""A headless Chromium (Debian's package, driven by Playwright) to look at the HTML the toolkit writes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Without the background-networking switches Chromium keeps trying hosts a closed network refuses.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    found = os.environ.get("TOOLKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium for the report screenshot: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium here (apt-get install chromium, or set TOOLKIT_CHROMIUM)")
    return found


def screenshot(page_file: Path, output: Path) -> list[dict]:
    """Open the page, save a full-page screenshot, and return its images as the browser decoded them."""
    from playwright.sync_api import sync_playwright

    output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium(), args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(page_file.resolve().as_uri())
        images = page.evaluate("Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth, "
                               "height: i.naturalHeight, shown: i.getBoundingClientRect().width}))")
        page.screenshot(path=str(output), full_page=True)
        browser.close()
    return images
