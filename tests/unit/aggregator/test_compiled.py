"""The engine's hot modules run compiled only from a build of their current sources (compiled.py)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from services.aggregator import compiled


def test_the_suite_runs_the_modules_as_make_built_them() -> None:
    # `make test` compiles them first, so the tests check the code the worker runs; with
    # AGGREGATOR_COMPILED=0 they check the Python sources.
    wanted = os.environ.get("AGGREGATOR_COMPILED", "1") != "0"
    for name in compiled.MODULES:
        module = importlib.import_module(f"services.aggregator.{name}")
        assert (module.__file__ or "").endswith(".py") is not wanted, module.__file__
    assert compiled.running_compiled() is wanted


def built(tmp_path: Path, digest: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / compiled.DIGEST_FILE).write_text(digest + "\n")
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("AGGREGATOR_COMPILED", raising=False)
    return tmp_path


def test_a_current_build_goes_first_and_its_library_is_found(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    build = built(tmp_path, compiled.sources_digest(), monkeypatch)
    assert compiled.package_path(["sources"]) == [str(build / compiled.MODULES_DIR), "sources"]
    assert str(build / compiled.LIBRARY_DIR) in sys.path


def test_a_build_of_other_sources_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = built(tmp_path, "0" * 64, monkeypatch)
    assert compiled.package_path(["sources"]) == ["sources"]
    assert str(build / compiled.LIBRARY_DIR) not in sys.path


def test_no_build_and_python_asked_for_run_the_sources(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    built(tmp_path, compiled.sources_digest(), monkeypatch)
    monkeypatch.setenv("AGGREGATOR_COMPILED", "0")
    assert compiled.package_path(["sources"]) == ["sources"]
    monkeypatch.delenv("AGGREGATOR_COMPILED")
    monkeypatch.setattr(compiled, "BUILD_DIR", tmp_path / "none")
    assert compiled.package_path(["sources"]) == ["sources"]


def test_the_digest_follows_every_modules_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in compiled.MODULES:
        (tmp_path / f"{name}.py").write_bytes((compiled.PACKAGE_DIR / f"{name}.py").read_bytes())
    monkeypatch.setattr(compiled, "PACKAGE_DIR", tmp_path)
    before = compiled.sources_digest()
    for name in compiled.MODULES:
        source = tmp_path / f"{name}.py"
        kept = source.read_bytes()
        source.write_bytes(kept + b"\n")
        assert compiled.sources_digest() != before, name
        source.write_bytes(kept)
    assert compiled.sources_digest() == before
