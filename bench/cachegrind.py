"""Instructions a command runs, counted by valgrind's cachegrind: deterministic where CPU time on a
shared virtual machine moves by tens of percent from run to run (engine_bench, triage_bench)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]


def require_valgrind(what: str) -> None:
    if shutil.which("valgrind") is None:
        sys.exit(f"{what} needs valgrind (Debian: apt-get install valgrind)")


def instructions(command: list[str], env: Mapping[str, str], cwd: Path) -> int:
    """The instructions `command` ran under cachegrind (exits with valgrind's output if none)."""
    done = subprocess.run([*VALGRIND, *command], env=dict(env), cwd=cwd, check=True, capture_output=True,
                          text=True)
    refs = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if refs is None:
        sys.exit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(refs.group(1).replace(",", ""))
