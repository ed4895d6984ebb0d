"""The Rasa project in intents/ is valid and its conversation tests pass.

Runs Rasa's own checks (from ``.venv-rasa``) the way CI should: ``rasa data validate``
and ``rasa test core`` on the trained model. Both are slow (Rasa's start-up), so each
runs once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.rasa.process import RASA_BIN, model_path, train
from bot.settings import Settings

pytestmark = pytest.mark.e2e

INTENTS = Settings.from_env(environ={}, env_file=Path("/nonexistent")).intents_dir


def rasa(*args: str, cwd: Path = INTENTS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA_BIN), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_rasa_data_validate_passes() -> None:
    result = rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_rasa_test_stories_all_pass(tmp_path: Path) -> None:
    train(INTENTS)
    result = rasa(
        "test",
        "core",
        "--stories",
        "tests/test_stories.yml",
        "--model",
        str(model_path(INTENTS)),
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = tmp_path / "failed_test_stories.yml"
    assert not failed.exists() or "stories:" not in failed.read_text(), failed.read_text()
