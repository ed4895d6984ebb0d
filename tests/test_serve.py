"""``serve``, ``train`` and ``chat`` as an operator meets them: refusals, banner, training."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.rasa_process import train
from bot.serve import ServeError, banner, check_workers
from bot.settings import ROOT, Settings

SETTINGS = Settings.from_env(environ={}, env_file=Path("/nonexistent"))


def outage_bot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=ROOT,
        timeout=600,
        check=False,
    )


def test_one_worker_needs_nothing_more() -> None:
    check_workers(SETTINGS, 1)


@pytest.mark.parametrize(
    ("changes", "workers", "reason"),
    [
        ({}, 0, "at least 1"),
        ({}, 2, "REDIS_URL"),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, 2, "PostgreSQL"),
    ],
)
def test_unsafe_worker_setups_are_refused(
    changes: dict[str, str], workers: int, reason: str
) -> None:
    with pytest.raises(ServeError, match=reason):
        check_workers(replace(SETTINGS, **changes), workers)  # type: ignore[arg-type]


def test_serve_refusal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = outage_bot("serve", "--workers", "2", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "REDIS_URL" in result.stderr


def test_banner_shows_every_url_and_first_run_credentials_once() -> None:
    text = banner(SETTINGS, ("admin", "pw-123", "tok-456"))
    for path in ("/chat", "/console", "/admin", "/healthz"):
        assert f"http://127.0.0.1:8080{path}" in text
    assert "pw-123" in text and text.rstrip().endswith("tok-456")
    assert "pw-123" not in banner(SETTINGS, None)


@pytest.mark.e2e  # trains with the real Rasa first when the model is stale
def test_train_skips_when_intents_are_unchanged(tmp_path: Path) -> None:
    train(SETTINGS.intents_dir)
    result = outage_bot("train", DATABASE_URL=f"sqlite:///{tmp_path}/untouched.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "model is up to date (intents/ unchanged)"
    assert not (tmp_path / "untouched.db").exists()  # training needs no database
