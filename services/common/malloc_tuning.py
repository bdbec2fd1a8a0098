"""glibc's allocator told to keep the memory it frees, for processes that churn through large buffers.

By default glibc serves an allocation of 128 KiB or more (the threshold grows with use, up to
32 MiB) with a fresh `mmap` and gives it back to the kernel when it is freed, and it returns the top
of its heap once 128 KiB of it are free. Either way the next buffer is memory the process has never
touched, and every 4 KiB page of it costs a page fault on first use. The aggregator's worker and
packer build and drop megabytes a second (Kafka requests and responses, packs, RocksDB write
batches). On the virtual machines this runs on, a fresh page costs 3.4–4.8 µs against 0.06–0.15 µs
for a page in use (`python -m bench.page_faults`); a worker and its packer took 124,000–135,000
faults over the aggregator benchmark's 200,000 events, and 92,000–96,000 with the settings here
(`perf stat -e page-faults -p <worker pid>`, docs/benchmarks.md).

The cost is memory: a process holds its peak heap rather than shrinking back, which for these
processes is bounded by their caches and batch limits (docs/operations.md, *Aggregator workers*).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
# From glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Allocations below this come from the heap and are reused once freed; glibc caps it at 32 MiB
# on 64-bit machines (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD = 32 * 1024 * 1024
# Free memory at the heap's top kept rather than returned to the kernel.
TRIM_THRESHOLD = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where the C library is not
    glibc (musl, say), which has no such settings."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.info("no glibc mallopt here: the allocator keeps its defaults")
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
