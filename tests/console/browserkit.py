"""Headless Chromium (Debian's `chromium` + `chromium-driver`) for the console's browser tests, and
the steps every test takes: open the console, log in with a token, wait for elements generously.

Screenshots go to the test's temporary directory (kept by pytest as artefacts) and, when
OSDN_CONSOLE_SCREENSHOTS names a directory, there too (how docs/img was made)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 30  # seconds: every asynchronous step polls this long at most (the machine may be loaded)


def need_chromium() -> None:
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")


@contextmanager
def browser(shots: Path) -> Iterator[Browser]:
    """A headless Chromium whose profile and temporary files (its singleton socket directory, which
    it leaves behind on quit) live in one directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="osdn-chromium-") as home:
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                    f"--user-data-dir={home}/profile"):
            opts.add_argument(arg)
        opts.accept_insecure_certs = True   # the server's certificate is signed by its own CA
        driver = webdriver.Chrome(options=opts, service=Service(DRIVER, env={**os.environ, "TMPDIR": home}))
        try:
            yield Browser(driver, shots)
        finally:
            driver.quit()


class Browser:
    def __init__(self, driver: WebDriver, shots: Path) -> None:
        self.driver, self.shots = driver, shots
        shots.mkdir(parents=True, exist_ok=True)

    def wait(self, what: str, condition: Callable[[WebDriver], Any]) -> Any:
        return WebDriverWait(self.driver, WAIT, poll_frequency=0.2).until(condition, f"waiting for {what}")

    def css(self, selector: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def wait_css(self, what: str, selector: str) -> WebElement:
        element: WebElement = self.wait(what, lambda d: next(iter(self.css(selector)), None))
        return element

    def js(self, script: str, *args: object) -> Any:
        return self.driver.execute_script(script, *args)

    def attrs(self, selector: str, name: str) -> list[str]:
        """Attribute `name` of every element matching `selector`, read in one script (the live view
        may redraw between a find and a read, which makes element handles stale)."""
        return list(self.js("return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))",
                            selector, name))

    def text(self, selector: str) -> str:
        return str(self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", selector))

    def login(self, url: str, token: str) -> None:
        self.driver.get(url + "/console/")
        self.wait_css("the login form", "#login-token").send_keys(token)
        self.js("document.querySelector('#login-button').click()")
        self.wait("the user's name in the header", lambda d: self.text("#who"))
        self.wait("the live feed", lambda d: self.js("return document.querySelector('#live').dataset.state") == "live")

    def view(self, name: str) -> None:
        self.js(f"document.querySelector('#nav button[data-view={name}]').click()")

    def cell(self, src: str, dst: str) -> str:
        """data-allowed of the matrix cell src -> dst ("" while it is not drawn)."""
        return str(self.js("const c = document.querySelector("
                           "`#matrix .cell[data-from='${arguments[0]}'][data-to='${arguments[1]}']`);"
                           " return c ? c.dataset.allowed : ''", src, dst))

    def click_cell(self, src: str, dst: str) -> None:
        self.js("document.querySelector(`#matrix .cell[data-from='${arguments[0]}'][data-to='${arguments[1]}'] rect`)"
                ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", src, dst)

    def show_matrix(self, level: str, port: int = 80) -> None:
        self.view("reachability")
        self.js("document.querySelector('#matrix-level').value = arguments[0];"
                "document.querySelector('#matrix-port').value = arguments[1];"
                "document.querySelector('#matrix-form').requestSubmit()", level, port)
        self.wait(f"a {level} matrix", lambda d: self.js("return document.querySelector('#matrix').dataset.level") == level)

    def preview_impact(self, manifest: str, namespace: str) -> None:
        self.view("impact")
        self.js("document.querySelector('#impact-manifest').value = arguments[0];"
                "document.querySelector('#impact-namespace').value = arguments[1];"
                "document.querySelector('#impact-run').click()", manifest, namespace)

    def trace(self, src: str, dst: str, port: int = 80) -> None:
        self.view("trace")
        self.js("document.querySelector('#trace-from').value = arguments[0];"
                "document.querySelector('#trace-to').value = arguments[1];"
                "document.querySelector('#trace-port').value = arguments[2];"
                "document.querySelector('#trace-run').click()", src, dst, port)

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        extra = os.environ.get("OSDN_CONSOLE_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path
