"""`make audit`'s judgement: which vulnerabilities fail the build, and how an ignore must be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.audit import Report, ignored_ids, judge


def test_an_ignore_needs_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "ignore.txt"
    path.write_text("# comment\n\nPYSEC-2024-1  only the CLI is affected, which we never run\n")
    assert ignored_ids(path) == {"PYSEC-2024-1": "only the CLI is affected, which we never run"}
    path.write_text("GHSA-xxxx-yyyy\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        ignored_ids(path)


def test_found_ignored_by_id_or_alias_and_withdrawn() -> None:
    report = Report()
    vulns = [{"id": "PYSEC-1", "aliases": ["CVE-2025-1"], "fixed_in": ["2.0"]},
             {"id": "GHSA-2", "aliases": ["CVE-2025-2"], "fixed_in": []},
             {"id": "PYSEC-3", "aliases": [], "withdrawn": "2025-01-01"}]
    judge(report, "lib", "1.0", vulns, {"CVE-2025-2": "not reachable from our code"})
    assert report.found == ["lib 1.0: PYSEC-1 (CVE-2025-1), fixed in 2.0"]
    assert report.ignored == ["lib 1.0: GHSA-2 (CVE-2025-2), fixed in no fix yet"]
