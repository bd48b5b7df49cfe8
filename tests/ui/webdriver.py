"""A small W3C WebDriver client over ``requests``, for chromedriver and headless Chromium.

Only what the UI tests use: open a page, find elements by CSS, click, type, read text, run a
script, take a screenshot. No pip dependency beyond ``requests`` (which the provider uses).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import requests

#: The key of an element reference in W3C WebDriver JSON.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
#: Debian's chromium / chromium-driver packages.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
#: The machine may have no internet: nothing in the browser may try to reach it.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
)

T = TypeVar("T")


class WebDriverError(RuntimeError):
    """chromedriver refused a command, or a wait ran out."""


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    chromium = next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
    chromium = chromium or shutil.which("chromium")
    driver = next((p for p in CHROMEDRIVER_CANDIDATES if os.access(p, os.X_OK)), None)
    driver = driver or shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Element:
    def __init__(self, browser: Browser, element_id: str) -> None:
        self.browser = browser
        self.id = element_id

    def _path(self, suffix: str = "") -> str:
        return f"/element/{self.id}{suffix}"

    def click(self) -> None:
        self.browser.command("POST", self._path("/click"), {})

    def send_keys(self, text: str) -> None:
        self.browser.command("POST", self._path("/value"), {"text": text})

    def clear(self) -> None:
        self.browser.command("POST", self._path("/clear"), {})

    @property
    def text(self) -> str:
        value: str = self.browser.command("GET", self._path("/text"))
        return value

    def attribute(self, name: str) -> str | None:
        value: str | None = self.browser.command("GET", self._path(f"/attribute/{name}"))
        return value

    def find(self, css: str) -> Element:
        found = self.browser.command(
            "POST", self._path("/element"), {"using": "css selector", "value": css}
        )
        return Element(self.browser, found[ELEMENT])


class Browser:
    """One WebDriver session of headless Chromium."""

    def __init__(self, driver_url: str, session_id: str) -> None:
        self.driver_url = driver_url
        self.session_id = session_id
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only, never a proxy

    def command(self, method: str, path: str, payload: object = None) -> Any:
        url = f"{self.driver_url}/session/{self.session_id}{path}"
        response = self.http.request(method, url, json=payload, timeout=60)
        body = response.json()
        if response.status_code != 200:
            value = body.get("value", {})
            raise WebDriverError(
                f"{method} {path}: {value.get('error')}: {value.get('message', '')[:500]}"
            )
        return body.get("value")

    def get(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    def find(self, css: str) -> Element:
        found = self.command("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, found[ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        found = self.command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, item[ELEMENT]) for item in found]

    def execute(self, script: str, *args: object) -> Any:
        def wire(arg: object) -> object:
            return {ELEMENT: arg.id} if isinstance(arg, Element) else arg

        return self.command(
            "POST", "/execute/sync", {"script": script, "args": [wire(a) for a in args]}
        )

    def execute_element(self, script: str, *args: object) -> Element:
        """Run ``script``, which returns one element."""
        found = self.execute(script, *args)
        if not isinstance(found, dict) or ELEMENT not in found:
            raise WebDriverError(f"the script returned {found!r}, not an element")
        return Element(self, found[ELEMENT])

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))
        return path

    def wait_for(self, what: str, check: Callable[[], T | None], timeout: float = 30.0) -> T:
        """Poll ``check`` until it returns something truthy (WebDriver errors count as not yet)."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                result = check()
                if result:
                    return result
            except WebDriverError as exc:
                last_error = f" (last error: {exc})"
            if time.monotonic() > deadline:
                raise WebDriverError(f"timed out after {timeout:g}s waiting for {what}{last_error}")
            time.sleep(0.2)


@contextmanager
def chromium_session(chromium: str, chromedriver: str, log_dir: Path) -> Iterator[Browser]:
    """chromedriver on a free loopback port, one headless Chromium session; both end on exit."""
    port = _free_port()
    log = log_dir / "chromedriver.log"
    driver = subprocess.Popen(
        [chromedriver, f"--port={port}", "--allowed-ips=127.0.0.1", f"--log-path={log}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    profile = tempfile.mkdtemp(prefix="altcraft-chromium-", dir=log_dir)
    driver_url = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.trust_env = False
    browser: Browser | None = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if http.get(f"{driver_url}/status", timeout=2).json()["value"]["ready"]:
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            if driver.poll() is not None or time.monotonic() > deadline:
                raise WebDriverError(f"chromedriver did not start; see {log}")
            time.sleep(0.1)
        capabilities = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
                    },
                }
            }
        }
        response = http.post(f"{driver_url}/session", json=capabilities, timeout=60)
        value = response.json()["value"]
        if response.status_code != 200:
            raise WebDriverError(f"no browser session: {value.get('message', value)}")
        browser = Browser(driver_url, value["sessionId"])
        yield browser
    finally:
        if browser is not None:
            with suppress(requests.RequestException):
                http.delete(f"{driver_url}/session/{browser.session_id}", timeout=30)
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
        shutil.rmtree(profile, ignore_errors=True)
