"""The status page in a real browser: headless Debian chromium driven by selenium through
Debian's chromedriver, against a real `databay run --http` process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web_support import SENTINEL, DatabayRun, env_with, pipeline_file

HOWTO = ("needs Debian's chromium and chromium-driver: apt-get install chromium "
         "chromium-driver (.ci/install-web.sh does it)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)

pytestmark = [pytest.mark.slow,
              # in CI (.ci/run installs them) a missing browser fails instead
              pytest.mark.skipif((CHROMIUM is None or CHROMEDRIVER is None)
                                 and not os.environ.get("CI"), reason=HOWTO)]

TOKEN = "browser-token-1234"

PIPELINE = """
[[links]]
name = "counting"
interval = "200ms"

[[links.inlets]]
type = "webnodes:CountInlet"

[[links.outlets]]
type = "webnodes:SinkOutlet"

[[links]]
name = "leaky"
interval = "300ms"
ignore_exceptions = true

[[links.inlets]]
type = "webnodes:LeakyInlet"

[[links.outlets]]
type = "webnodes:SinkOutlet"
"""


def chrome(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1400,600"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                            options=options)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = chrome(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def databay_run(tmp_path: Path) -> Iterator[DatabayRun]:
    folder = tmp_path / "run"
    folder.mkdir()
    path = pipeline_file(folder, PIPELINE)
    run = DatabayRun(folder, "run", str(path), "--http", "0", "--status", "off",
                     env=env_with(folder, {"DATABAY_HTTP_TOKEN": TOKEN}))
    try:
        run.wait_serving()
        yield run
    finally:
        run.stop()


def test_the_page_shows_links_live_and_pauses_with_the_token(browser: Any,
                                                            databay_run: DatabayRun) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    browser.get(databay_run.url)

    def row(name: str) -> Any:
        return browser.find_element(By.CSS_SELECTOR, f'tr[data-link="{name}"]')

    def cell(name: str, key: str) -> str:
        return str(row(name).find_element(By.CSS_SELECTOR, f'[data-key="{key}"]').text)

    wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, 'tr[data-link="leaky"]'))
    names = [tr.get_attribute("data-link")
             for tr in browser.find_elements(By.CSS_SELECTOR, "#links tbody tr")]
    assert names == ["counting", "leaky"]
    assert cell("counting", "schedule") == "every 0.2s"
    wait.until(lambda _: int(cell("counting", "transfers").split()[0]) >= 1)
    first = int(cell("counting", "transfers").split()[0])
    marker = browser.execute_script("window.__noReload = 1; return window.__noReload")
    assert marker == 1
    wait.until(lambda _: int(cell("counting", "transfers").split()[0]) >= first + 3)
    assert browser.execute_script("return window.__noReload") == 1, "the page reloaded"
    wait.until(lambda _: row("leaky").get_attribute("data-state") == "failing")
    assert "ConnectionError" in cell("leaky", "error")
    assert SENTINEL not in browser.page_source

    pause = row("counting").find_element(By.CSS_SELECTOR, '[data-action="pause"]')
    pause.click()  # no token typed yet: refused
    wait.until(lambda _: "401" in browser.find_element(By.ID, "message").text)
    assert row("counting").get_attribute("data-state") != "paused"
    browser.find_element(By.ID, "token").send_keys("not-the-token")
    pause.click()
    wait.until(lambda _: "403" in browser.find_element(By.ID, "message").text)
    token = browser.find_element(By.ID, "token")
    token.clear()
    token.send_keys(TOKEN)
    pause.click()
    wait.until(lambda _: row("counting").get_attribute("data-state") == "paused")
    paused_at = int(cell("counting", "transfers").split()[0])
    row("counting").find_element(By.CSS_SELECTOR, '[data-action="resume"]').click()
    wait.until(lambda _: row("counting").get_attribute("data-state") != "paused")
    wait.until(lambda _: int(cell("counting", "transfers").split()[0]) >= paused_at + 2)
    assert TOKEN not in browser.page_source.replace('value="' + TOKEN, "")
    assert browser.execute_script("return window.__noReload") == 1
