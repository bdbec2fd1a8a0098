"""`python -m deploy.audit` (`make audit`): known vulnerabilities in the installed dependencies.

pip-audit does the work, with PyPI's vulnerability data (`--vulnerability-service pypi`: PyPI is the
one vulnerability source every machine of this project reaches). It asks PyPI's JSON API about each
installed *release*. Where PyPI answers only for the *project* (some mirrors and proxies serve
`/pypi/<name>/json` but not `/pypi/<name>/<version>/json`), pip-audit skips the package; this script
then reads the project's answer, whose `vulnerabilities` are those of the latest release: exact for
a package installed at its latest release, and a package installed below it is listed as not
audited. Any known vulnerability not in `deploy/audit-ignore.txt` fails the audit.

Project answers are cached under `.cache/pip-audit/` for CACHE_HOURS, and pip-audit keeps its own
HTTP cache there, so a second `make test` within hours asks PyPI nothing new.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "pip-audit"
IGNORE_FILE = ROOT / "deploy" / "audit-ignore.txt"
PYPI_JSON = "https://pypi.org/pypi/{name}/json"
CACHE_HOURS = 12
OWN_PROJECT = "onestop-live"


@dataclass
class Report:
    found: list[str] = field(default_factory=list)        # "name version: ID (fixed in ...)"
    ignored: list[str] = field(default_factory=list)
    by_pip_audit: int = 0
    by_latest_release: int = 0
    not_audited: list[str] = field(default_factory=list)  # "name version (latest X)"


def ignored_ids(path: Path = IGNORE_FILE) -> dict[str, str]:
    """`ID  reason` per line; '#' starts a comment. A reason is required: an ignore must say why."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {vuln_id} needs a reason after it")
        ignores[vuln_id] = reason.strip()
    return ignores


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}


def run_pip_audit() -> list[dict[str, Any]]:
    command = [str(Path(sys.executable).with_name("pip-audit")), "--vulnerability-service", "pypi",
               "--skip-editable", "--progress-spinner", "off", "--cache-dir", str(CACHE), "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        dependencies: list[dict[str, Any]] = json.loads(done.stdout)["dependencies"]
    except (ValueError, KeyError):
        raise SystemExit(f"pip-audit failed ({done.returncode}):\n{done.stderr[-2000:]}") from None
    return dependencies


def project_json(name: str, client: httpx.Client) -> dict[str, Any]:
    cached = CACHE / "projects" / f"{name}.json"
    if cached.exists() and time.time() - cached.stat().st_mtime < CACHE_HOURS * 3600:
        answer: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
        return answer
    response = client.get(PYPI_JSON.format(name=name))
    response.raise_for_status()
    answer = response.json()
    # Only what the audit reads: a project's whole answer can be megabytes.
    kept = {"info": {"version": answer["info"]["version"]},
            "vulnerabilities": answer.get("vulnerabilities", [])}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(kept), encoding="utf-8")
    return kept


def describe(name: str, version: str, vuln: dict[str, Any]) -> str:
    fixed = ", ".join(vuln.get("fix_versions") or vuln.get("fixed_in") or []) or "no fix yet"
    aliases = ", ".join(vuln.get("aliases") or [])
    return f"{name} {version}: {vuln['id']}{f' ({aliases})' if aliases else ''}, fixed in {fixed}"


def judge(report: Report, name: str, version: str, vulns: list[dict[str, Any]],
          ignores: dict[str, str]) -> None:
    """File each vulnerability as found or ignored (by its id or any alias); withdrawn ones are none."""
    for vuln in vulns:
        if vuln.get("withdrawn"):
            continue
        ids = {vuln["id"], *(vuln.get("aliases") or [])}
        target = report.ignored if ids & ignores.keys() else report.found
        target.append(describe(name, version, vuln))


def audit() -> Report:
    report = Report()
    ignores = ignored_ids()
    versions = installed()

    def record(name: str, version: str, vulns: list[dict[str, Any]]) -> None:
        judge(report, name, version, vulns, ignores)

    skipped = []
    for dependency in run_pip_audit():
        name = canonicalize_name(dependency["name"])
        if name == OWN_PROJECT:
            continue
        if "skip_reason" in dependency:
            skipped.append(name)
        else:
            report.by_pip_audit += 1
            record(name, dependency["version"], dependency.get("vulns", []))
    with httpx.Client(timeout=30, verify=os.environ.get("PIP_CERT", True)) as client:
        for name in skipped:
            version = versions.get(name, "?")
            try:
                project = project_json(name, client)
            except httpx.HTTPError as exc:
                report.not_audited.append(f"{name} {version} (PyPI: {exc})")
                continue
            latest = project["info"]["version"]
            if latest != version:
                report.not_audited.append(f"{name} {version} (latest {latest})")
                continue
            report.by_latest_release += 1
            record(name, version, project["vulnerabilities"])
    return report


def main() -> int:
    report = audit()
    lines = [f"audited {report.by_pip_audit} packages with pip-audit and {report.by_latest_release} "
             "at their latest release with PyPI's project data"]
    lines += [f"  ignored (see {IGNORE_FILE.name}): {line}" for line in report.ignored]
    if report.not_audited:
        lines.append(f"not audited ({len(report.not_audited)}): PyPI gave no data for the installed "
                     f"release: {'; '.join(report.not_audited)}")
    if report.found:
        lines.append(f"KNOWN VULNERABILITIES ({len(report.found)}): upgrade, or add the id with the "
                     f"reason to {IGNORE_FILE.relative_to(ROOT)}")
        lines += [f"  {line}" for line in report.found]
    else:
        lines.append("no known vulnerabilities")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if report.found else 0


if __name__ == "__main__":
    sys.exit(main())
