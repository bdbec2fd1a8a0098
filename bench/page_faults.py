"""What a page fault costs on this machine: `python -m bench.page_faults [--mib N]`.

Touches N MiB of anonymous memory one byte per 4 KiB page, three times in one run: fresh from
`mmap` (each page faults), again (no fault), then after `munmap` and a new `mmap` (faults again:
memory handed back to the kernel is new memory to the process). The ratio of the first to the second
is what a fresh page costs over a page in use; services/common/malloc_tuning.py says why it matters.
"""

from __future__ import annotations

import argparse
import mmap
import time

PAGE = 4096


def touch_each_page(memory: mmap.mmap, size: int, value: int) -> float:
    """µs a page to write one byte of each page."""
    began = time.perf_counter()
    for offset in range(0, size, PAGE):
        memory[offset] = value
    return (time.perf_counter() - began) / (size // PAGE) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    size = parser.parse_args().mib * 1024 * 1024
    memory = mmap.mmap(-1, size)
    fresh = touch_each_page(memory, size, 1)
    in_use = touch_each_page(memory, size, 2)
    memory.close()
    memory = mmap.mmap(-1, size)
    returned = touch_each_page(memory, size, 1)
    memory.close()
    print(f"fresh page {fresh:.2f} µs, page in use {in_use:.2f} µs, "
          f"page after munmap/mmap {returned:.2f} µs; fresh / in use = {fresh / in_use:.0f}")


if __name__ == "__main__":
    main()
