"""glibc keeps freed memory for reuse once told to (malloc_tuning.py)."""

from __future__ import annotations

import subprocess
import sys

from services.common.malloc_tuning import keep_freed_memory

# Five rounds of 64 buffers of 1 MiB, each written in full, then all freed: the page faults taken.
CHURN = """
import resource, sys
from services.common.malloc_tuning import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    buffers = [bytes([n]) * (1 << 20) for n in range(64)]
    del buffers
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", CHURN, mode], check=True, capture_output=True,
                              text=True).stdout)


def test_freed_buffers_are_reused_not_faulted_in_again() -> None:
    default, tuned = faults("default"), faults("tuned")
    pages_a_round = 64 * (1 << 20) // 4096
    # By default glibc hands the freed heap top back to the kernel after each round, so each round
    # faults its pages in again; tuned, only the first round does.
    assert default >= 4 * pages_a_round
    assert tuned < 2 * pages_a_round


def test_the_settings_apply_here() -> None:
    assert keep_freed_memory() is True  # glibc: the machines this runs on are Debian's
