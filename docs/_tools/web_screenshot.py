"""Takes docs/images/web-status.png: `databay demo --http` in headless Debian chromium.

    hatch run test.all:python docs/_tools/web_screenshot.py

Needs chromium and chromium-driver (apt-get install chromium chromium-driver) and selenium.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

OUT = Path(__file__).resolve().parents[1] / "images" / "web-status.png"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        err = Path(tmp) / "stderr.txt"
        with err.open("w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "databay", "demo", "--http", "0",
                                     "--duration", "60s", "--status", "off", "--output",
                                     str(Path(tmp) / "out")], stdout=subprocess.DEVNULL,
                                    stderr=stderr, cwd=tmp)
        try:
            url = ""
            deadline = time.monotonic() + 30
            while not url and time.monotonic() < deadline:
                found = re.search(r"serving (http://\S+/)", err.read_text())
                url = found.group(1) if found else ""
                time.sleep(0.1)
            assert url, err.read_text()
            while time.monotonic() < deadline:  # a few transfers first
                with urllib.request.urlopen(url + "api/links") as reply:
                    links = json.load(reply)["links"]
                if all(link["counts"]["transfers"] >= 3 for link in links):
                    break
                time.sleep(0.2)
            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", f"--user-data-dir={tmp}/profile",
                         "--window-size=1280,380", "--hide-scrollbars"):
                options.add_argument(flag)
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.get(url)
                time.sleep(1.5)  # two refreshes of the page
                OUT.parent.mkdir(exist_ok=True)
                driver.save_screenshot(str(OUT))
            finally:
                driver.quit()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
