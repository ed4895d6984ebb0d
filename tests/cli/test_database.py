"""What every command does first: bring the database up to date, never showing its password."""

from __future__ import annotations

from pathlib import Path

from tests.cli.command import run


def test_database_password_is_never_printed() -> None:
    result = run("postgresql://bot:s3cret-pw@127.0.0.1:1/nowhere", "db", "upgrade")
    assert result.returncode == 2
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "***" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_creates_a_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    result = run(f"sqlite:///{path}", "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout and path.exists()
