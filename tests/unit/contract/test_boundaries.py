"""Services meet only through Kafka and the contract package: no module of a service imports
another service, and the shared packages (`services.contract`, `services.common`) import none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SERVICES_DIR = ROOT / "services"
SERVICES = ("aggregator", "api", "ingest", "simulator")
SHARED = ("contract", "common")


def imported_packages(path: Path) -> set[str]:
    """The `services.<package>` names a module imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                 else [])
        found.update(name.split(".")[1] for name in names if name.startswith("services.") and "." in name)
    return found


@pytest.mark.parametrize("package", SERVICES + SHARED)
def test_a_package_imports_only_itself_and_the_shared_packages(package: str) -> None:
    # A service may use both shared packages; they use only themselves.
    allowed = {package, *SHARED} if package in SERVICES else {package}
    wrong = {str(path.relative_to(SERVICES_DIR)): sorted(imported_packages(path) - allowed)
             for path in sorted((SERVICES_DIR / package).rglob("*.py"))}
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_check_sees_an_import_of_another_service(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from services.aggregator.figures import rates\n"
                      "import services.api.app\n")
    assert imported_packages(module) == {"aggregator", "api"}
