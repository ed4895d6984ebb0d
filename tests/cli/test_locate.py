"""``outage-bot locate``: no database needed, one answer per line."""

from __future__ import annotations

from tests.cli.command import run


def test_locate_answers_one_text_or_each_stdin_line() -> None:
    url = "sqlite:////nonexistent/never-used.db"
    assert run(url, "locate", "no dial tone on 0161 496 0000").stdout == "0161\tManchester\n"
    assert run(url, "locate", "I'm", "in", "Leeds").stdout == "0113\tLeeds\n"
    bulk = run(url, "locate", stdin="LS6\nnothing here\n020 7946 0321\n\n07700 900123\n")
    assert bulk.returncode == 0
    assert bulk.stdout.splitlines() == ["0113\tLeeds", "-", "020\tLondon", "-", "-"]
