"""What ``outage-bot`` accepts: help that reads well, one-line errors for bad arguments."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest

from tests.cli.command import run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("incident add --areas 020 --services phone", "required: --title"),
        (
            "incident add --areas 020 --services phone --title T --status resolved",
            "invalid choice",
        ),
        ("user add bob --role boss", "invalid choice"),
        ("frobnicate", "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(tmp_path: Path, args: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'untouched.db'}"
    result = run(url, *shlex.split(args))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "untouched.db").exists()


def test_serve_chat_train_are_registered_commands() -> None:
    from bot.cli import EXTENSIONS, build_parser

    assert {"serve", "chat", "train"} <= set(EXTENSIONS)
    args = build_parser().parse_args(["serve", "--demo", "--workers", "3"])
    assert args.demo and args.workers == 3


def test_help_reads_well() -> None:
    result = run("sqlite://", "--help")
    assert result.returncode == 0
    for word in ("incident", "locate", "serve", "examples:", "user add alice --role comms"):
        assert word in result.stdout


def test_every_extension_names_a_function_that_exists() -> None:
    from bot.cli import EXTENSIONS

    for name, target in EXTENSIONS.items():
        assert target is not None, name
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target
