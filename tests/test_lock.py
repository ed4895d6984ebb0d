"""requirements.lock pins every dependency pyproject.toml names, each with its hashes.

``make install`` installs from the lock with ``--require-hashes``: a dependency added to
pyproject.toml without ``make lock`` would be missing there, and this says which.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.settings import ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)")


def pins() -> dict[str, tuple[str, int]]:
    """Each locked package: its version and how many hashes it carries."""
    found: dict[str, tuple[str, int]] = {}
    name = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            found[name] = (match[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
    return found


def declared() -> list[Requirement]:
    """The app's dependencies and its test extra's, as pyproject.toml states them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]] + [
        Requirement(text) for text in project["optional-dependencies"]["test"]
    ]


def test_every_declared_dependency_is_locked_at_a_version_it_allows() -> None:
    locked = pins()
    assert len(locked) > len(declared())  # their own dependencies are locked too
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside {requirement.specifier}: run `make lock`"
        )


def test_every_locked_package_carries_its_hashes() -> None:
    assert {name for name, (_, hashes) in pins().items() if hashes == 0} == set()


def test_make_installs_the_app_from_the_lock_alone() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install $(PIP_QUIET) --require-hashes -r requirements.lock" in makefile
    assert "pip install $(PIP_QUIET) --no-deps -e ." in makefile
