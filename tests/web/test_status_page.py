"""The status page in a real browser on a phone: search, read the answer, follow the link.

No Rasa: the page needs only the incident book. The page has no JavaScript of its own, so
the search runs with the browser's JavaScript turned off, as on a locked-down phone.
"""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.keys import Keys

from tests.conftest import add_outage, app_settings, running_app
from tests.scratch import free_port
from tests.web.conftest import DEAD_RASA, StartBrowser


async def test_on_a_phone_someone_searches_for_their_postcode_and_reads_the_answer(
    database_url: str, tmp_path: Path, browsers: StartBrowser
) -> None:
    settings = app_settings(database_url, DEAD_RASA, free_port(), tmp_path)
    async with running_app(settings) as live:
        reference = await add_outage(live.app, ["0113"])
        tab = await browsers(live.url, "/status")
        await tab.phone()
        await tab.open("/status")

        assert await tab.texts("h1") == ["Service status"]
        assert await tab.texts(f"#{reference} h3") == ["Broadband and phone outage"]
        fits = "return document.documentElement.scrollWidth <= window.innerWidth"
        assert await tab.evaluate(fits), "the page should not scroll sideways on a phone"
        banner = "return getComputedStyle(document.querySelector('.banner')).backgroundColor"
        assert await tab.evaluate(banner) == "rgb(18, 40, 76)", "the style sheet should apply"
        assert await tab.unnamed_controls() == []

        await tab.without_javascript()
        await tab.click("#q")
        await tab.keys("LS1 4AP", Keys.ENTER)
        verdict = await tab.wait_for_text(".answer .verdict", "Problem known")
        assert verdict == "Problem known in 0113 (Leeds):"
        [found] = await tab.texts(".answer .found li")
        assert found.startswith("Broadband and phone outage: Investigating, estimated fix ")
        assert await tab.value("#q") == "LS1 4AP"

        await tab.click(".answer a[href='/status/area/0113']")
        await tab.wait_for_text("h1", "Service status for 0113 (Leeds)")
        assert await tab.texts(f"#{reference} h3") == ["Broadband and phone outage"]
        assert await tab.page_errors() == []
