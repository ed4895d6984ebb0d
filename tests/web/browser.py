"""Headless Chromium, driven by Selenium, for what the pages' own JavaScript does.

Selenium's calls block and the app under test serves from the test's event loop, so
each call runs in a worker thread. Chromium and ChromeDriver come from the system
(Debian's ``chromium`` and ``chromium-driver``; ``make install-browser``), or from the
paths in ``CHROMIUM`` and ``CHROMEDRIVER``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
# As a closed network needs: no background calls home, no QUIC, no first-run dialogs.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,900",
)


# Roles a person operates, each of which needs a name to be usable by ear.
CONTROLS = frozenset(
    {"button", "checkbox", "combobox", "dialog", "link", "listbox", "option", "radio"}
    | {"searchbox", "spinbutton", "tab", "textbox"}
)


def _driver() -> webdriver.Chrome:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: run `make install-browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    # The console log: page errors and Content-Security-Policy violations.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


class Tab:
    """One person's browser (its own profile), on one page of the app at a time."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self._base_url = base_url

    @classmethod
    async def start(cls, base_url: str) -> Tab:
        """A new browser, as a person who has never used the app."""
        return cls(await asyncio.to_thread(_driver), base_url)

    async def close(self) -> None:
        """Quit the browser."""
        await asyncio.to_thread(self.driver.quit)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(call, *args)

    async def open(self, path: str) -> None:
        """Load ``path`` of the app."""
        await self._run(self.driver.get, self._base_url + path)

    async def new_tab(self, path: str) -> str:
        """Open ``path`` in a new tab of the same browser (same cookies); its handle."""

        def run() -> str:
            self.driver.switch_to.new_window("tab")
            self.driver.get(self._base_url + path)
            return str(self.driver.current_window_handle)

        return await self._run(run)

    async def switch_to(self, handle: str) -> None:
        """Make the tab ``handle`` the one the other calls act on."""
        await self._run(self.driver.switch_to.window, handle)

    async def path(self) -> str:
        """The path (and query) of the page the tab shows."""
        url = str(await self._run(lambda: self.driver.current_url))
        return url.removeprefix(self._base_url)

    async def csp_violations(self) -> list[str]:
        """Content-Security-Policy violations Chromium logged since the last call."""
        entries = await self._run(self.driver.get_log, "browser")
        return [e["message"] for e in entries if "Content Security Policy" in e["message"]]

    async def sign_in(self, name: str, password: str) -> None:
        """Fill in the sign-in form this tab shows and send it, from the keyboard."""
        assert await self.focused() == "username", "the name field should have the focus"
        await self.keys(name, Keys.TAB, password, Keys.ENTER)

    async def phone(self, width: int = 390, height: int = 844) -> None:
        """Show pages as a phone would: a narrow touch screen, at twice the pixel density."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
        await self._run(self.driver.execute_cdp_cmd, "Emulation.setDeviceMetricsOverride", metrics)

    async def evaluate(self, script: str) -> Any:
        """Run ``script`` (JavaScript with a ``return``) in the page; its result."""
        return await self._run(self.driver.execute_script, script)

    async def cookies(self) -> list[dict[str, Any]]:
        """Every cookie the browser holds, whatever its path (WebDriver's own call shows
        only those the current page would send)."""
        found = await self._run(self.driver.execute_cdp_cmd, "Network.getAllCookies", {})
        cookies: list[dict[str, Any]] = found["cookies"]
        return cookies

    async def clear_cookies(self) -> None:
        """Forget every cookie, as a person clearing their browser's data does."""
        await self._run(self.driver.execute_cdp_cmd, "Network.clearBrowserCookies", {})

    async def without_javascript(self) -> None:
        """Turn the page's JavaScript off, as some people browse (Selenium's own calls work)."""
        await self._run(
            self.driver.execute_cdp_cmd, "Emulation.setScriptExecutionDisabled", {"value": True}
        )

    async def keys(self, *keys: str) -> None:
        """Type into whatever has the keyboard focus, as a person would."""
        await self._run(lambda: self.driver.switch_to.active_element.send_keys(*keys))

    async def focused(self, attribute: str = "id") -> str:
        """An attribute (its id unless told) of the element that has the keyboard focus."""
        return str(
            await self._run(lambda: self.driver.switch_to.active_element.get_attribute(attribute))
        )

    async def texts(self, css: str) -> list[str]:
        """The visible text of every element ``css`` matches, in page order."""
        return await self._run(
            lambda: [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)]
        )

    async def value(self, css: str) -> str:
        """The current value of the form field ``css``."""
        return str(await self._run(lambda: self._element(css).get_property("value")))

    async def fill(self, css: str, *keys: str) -> None:
        """Empty the form field ``css``, then type ``keys`` into it."""

        def fill() -> None:
            field = self._element(css)
            field.clear()
            field.send_keys(*keys)

        await self._run(fill)

    async def fetch_status(self, method: str, path: str) -> int:
        """The status the page's own ``fetch`` gets for ``path`` (with the tab's cookie)."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[1], {method: arguments[0]}).then((r) => done(r.status));"
        )
        return int(await self._run(self.driver.execute_async_script, script, method, path))

    async def click(self, css: str) -> None:
        """Click the element ``css``."""
        await self._run(lambda: self._element(css).click())

    async def wait_until(
        self, what: str, check: Callable[[webdriver.Chrome], T], within: float = 15
    ) -> T:
        """The first truthy result of ``check``, polled for ``within`` seconds."""
        # The pages redraw lists whole, so an element found a moment ago may be gone.
        wait = WebDriverWait(
            self.driver,
            within,
            poll_frequency=0.05,
            ignored_exceptions=(StaleElementReferenceException,),
        )
        try:
            return await self._run(wait.until, check)
        except TimeoutException:
            raise AssertionError(f"after {within} s still waiting for {what}") from None

    async def wait_for_text(self, css: str, fragment: str, within: float = 15) -> str:
        """The text of the first element ``css`` matches whose text has ``fragment``.

        An element with no text never matches, so ``""`` waits for any text at all.
        """

        def found(driver: webdriver.Chrome) -> str | None:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.text and fragment in element.text:
                    return element.text
            return None

        return await self.wait_until(f"{fragment!r} in {css}", found, within)

    async def wait_for_count(self, css: str, count: int, within: float = 15) -> list[str]:
        """The texts of the elements ``css`` matches, once there are at least ``count``."""

        def enough(driver: webdriver.Chrome) -> list[str] | None:
            texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
            return texts if len(texts) >= count else None

        return await self.wait_until(f"{count} of {css}", enough, within)

    async def unnamed_controls(self) -> list[str]:
        """The controls on screen that a screen reader could not name, from Chromium's own
        accessibility tree (what assistive technology reads): ``role#id`` each."""

        def unnamed() -> list[str]:
            tree = self.driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})
            found = []
            for node in tree["nodes"]:
                role = node.get("role", {}).get("value")
                if node.get("ignored") or role not in CONTROLS:
                    continue
                if not node.get("name", {}).get("value", "").strip():
                    found.append(f"{role}#{node.get('backendDOMNodeId')}")
            return found

        return await self._run(unnamed)

    async def page_errors(self) -> list[str]:
        """What the page logged as errors so far (scripts failing, CSP refusals, 4xx/5xx)."""

        def errors() -> list[str]:
            entries = self.driver.get_log("browser")
            return [str(e["message"]) for e in entries if e.get("level") == "SEVERE"]

        return await self._run(errors)

    async def screenshot(self, path: Path) -> None:
        """Save what the browser shows as a PNG, for people to look at."""
        await self._run(self.driver.save_screenshot, str(path))

    def _element(self, css: str, within: float = 15) -> WebElement:
        # Pages draw lists after fetching them: wait for the element as a person would.
        try:
            element: WebElement = WebDriverWait(self.driver, within, poll_frequency=0.05).until(
                lambda driver: driver.find_element(By.CSS_SELECTOR, css)
            )
        except TimeoutException:
            raise AssertionError(f"after {within} s still no element {css}") from None
        return element
