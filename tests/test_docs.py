"""README.md stays short and every relative link in it and in docs/ leads somewhere.

A link to a heading (``file.md#anchor``) must name a heading the file has, spelt as
GitHub spells anchors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import ROOT

README_LIMIT = 12 * 1024
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text())
    return [
        target
        for target in LINK.findall(text)
        if not target.startswith(("http://", "https://", "mailto:"))
    ]


def test_readme_is_at_most_12_kb() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes: move detail into docs/"


def test_the_readme_links_every_file_in_docs() -> None:
    linked = {
        (ROOT / target.split("#")[0]).resolve() for target in relative_links(ROOT / "README.md")
    }
    assert {path.resolve() for path in documents()[1:]} <= linked


@pytest.mark.parametrize("document", documents(), ids=lambda path: path.name)
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in relative_links(document):
        file, _, fragment = target.partition("#")
        linked = (document.parent / file).resolve() if file else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_a_broken_link_and_a_missing_heading_are_both_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## The test suite\n\n[a](page.md#the-test-suite) [b](gone.md)\n")
    assert relative_links(page) == ["page.md#the-test-suite", "gone.md"]
    assert anchors(page) == {"title", "the-test-suite"}
    assert "no-such" not in anchors(page)
