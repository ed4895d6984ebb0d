"""Running the real ``outage-bot`` command as a subprocess, as staff and scripts do."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import ROOT


def run(
    url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "OUTAGE_BOT_TZ": "Europe/London", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
