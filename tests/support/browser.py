"""A headless Debian chromium driven by Selenium through Debian's chromium-driver, for page tests.

Selenium is given both programs' paths (`Service(executable_path=...)`, `binary_location`), so
it never looks for or downloads a driver or a browser. When either is missing the test fails,
naming the Debian packages to install: a browser test that skips silently tests nothing.
Chromium starts with its background networking off (no update, sync or field-trial requests
from a test) and a fresh profile folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

INSTALL_HINT = (
    "apt-get install chromium chromium-driver (Debian's packages; `make system-deps` installs them)"
)


def programs() -> tuple[str, str]:
    """The paths of chromium and chromedriver; fails the test, naming the packages, if absent."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        package
        for package, found in (("chromium", chromium), ("chromium-driver", driver))
        if found is None
    ]
    if chromium is None or driver is None:
        pytest.fail(
            f"the dashboard's browser test needs Debian's {' and '.join(missing)}: " + INSTALL_HINT,
            pytrace=False,
        )
    return chromium, driver


@contextmanager
def headless_chromium(
    profile: Path, width: int = 1400, height: int = 1800
) -> Iterator[webdriver.Chrome]:
    """A headless chromium session with a fresh profile under `profile`, closed on exit."""
    chromium, driver_path = programs()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root, where chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
