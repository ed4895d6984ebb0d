"""The Rasa project in intents/ is valid and its conversation tests pass.

Runs Rasa's own checks (from ``.venv-rasa``) the way CI should: ``rasa data validate``
and ``rasa test core`` on the trained model. Both are slow (Rasa's start-up), so each
runs once, and the two run side by side.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest

from bot.rasa.process import RASA_BIN, model_path, train
from bot.settings import Settings

pytestmark = pytest.mark.e2e

INTENTS = Settings.from_env(environ={}, env_file=Path("/nonexistent")).intents_dir


Check = tuple[Popen[str], Path]
"""A Rasa command started in intents/, and the file its output goes to."""


def rasa(*args: str, log: Path) -> Check:
    """Start one Rasa command in intents/, its output going to ``log``."""
    with log.open("w") as output:  # the child keeps its own copy
        process = subprocess.Popen(
            [str(RASA_BIN), *args],
            cwd=INTENTS,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"},
        )
    return process, log


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Check]]:
    """Both checks, started together: each is mostly Rasa's start-up, on its own core."""
    train(INTENTS)
    out = tmp_path_factory.mktemp("rasa-checks")
    started = {
        "validate": rasa("data", "validate", "--fail-on-warnings", log=out / "validate.log"),
        "test": rasa(
            "test",
            "core",
            "--stories",
            "tests/test_stories.yml",
            "--model",
            str(model_path(INTENTS)),
            "--out",
            str(out),
            "--fail-on-prediction-errors",
            log=out / "test.log",
        ),
    }
    yield started
    for process, _ in started.values():
        if process.poll() is None:  # a test failed before waiting: leave nothing running
            process.kill()
        process.wait()


def finished(check: Check) -> tuple[int, str]:
    """Wait for a started check: its exit status and the end of its output."""
    process, log = check
    code = process.wait(timeout=900)
    return code, log.read_text()[-6000:]


def test_rasa_data_validate_passes(checks: dict[str, Check]) -> None:
    code, output = finished(checks["validate"])
    assert code == 0, output


def test_rasa_test_stories_all_pass(checks: dict[str, Check]) -> None:
    code, output = finished(checks["test"])
    assert code == 0, output
    failed = checks["test"][1].parent / "failed_test_stories.yml"
    assert not failed.exists() or "stories:" not in failed.read_text(), failed.read_text()
