"""The packer in a process of its own, so that it and the Faust agent each get a core.

Decoding and validating every record is about a third of a worker's CPU time (profiled);
in the worker's process it shared one core, and the GIL, with the agent. The worker starts
`python -m services.aggregator.packer_process <worker pid>` with its own environment (so the same
settings), starts it again whenever it exits, and stops it when the worker stops. The child runs at
a lower CPU priority than the worker (`AGGREGATOR_PACKER_NICENESS`): the agent bounds throughput.
The child exits when the worker dies, even by SIGKILL (Linux's parent-death signal), so no packer
outlives its worker.

The child's metrics reach the worker's /metrics: once a second it prints its totals as one JSON line
on stdout, and the worker adds what changed to its own counters.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import orjson

from services.aggregator import metrics
from services.aggregator.packer import Packer
from services.aggregator.settings import AggregatorSettings
from services.common.gc_tuning import tune_gc
from services.common.malloc_tuning import keep_freed_memory

log = logging.getLogger(__name__)
REPORT_EVERY_S = 1.0
RESTART_AFTER_S = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def report() -> dict[str, Any]:
    """This process's packer metrics: records packed and dead-lettered (totals), consumer lag."""
    found: dict[str, Any] = {"packed": 0, "dlq": {}, "lag": {}}
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "aggregator_records_packed_total":
                found["packed"] = sample.value
            elif sample.name == "aggregator_dlq_records_total":
                found["dlq"][sample.labels["reason"]] = sample.value
            elif sample.name == "aggregator_consumer_lag_records":
                found["lag"][sample.labels["partition"]] = sample.value
    return found


class ReportedMetrics:
    """Adds a child's reported totals to this process's metrics; a new child counts from zero."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.packed = 0.0
        self.dlq: dict[str, float] = {}

    def add(self, reported: dict[str, Any]) -> None:
        metrics.PACKED.inc(max(0.0, reported["packed"] - self.packed))
        self.packed = reported["packed"]
        for reason, total in reported["dlq"].items():
            metrics.DLQ.labels(reason=reason).inc(max(0.0, total - self.dlq.get(reason, 0.0)))
            self.dlq[reason] = total
        for partition, lag in reported["lag"].items():
            metrics.CONSUMER_LAG.labels(partition=partition).set(lag)


class PackerProcess:
    """Runs the packer child for as long as it is awaited, starting it again when it exits."""

    def __init__(self) -> None:
        self.command = [sys.executable, "-m", "services.aggregator.packer_process", str(os.getpid())]
        self.reported = ReportedMetrics()

    async def run(self) -> None:
        while True:
            child = await self.start()
            self.reported.restart()
            try:
                assert child.stdout is not None
                async for line in child.stdout:
                    self._take(line)
                code = await child.wait()
            except asyncio.CancelledError:
                await self._stop(child)
                raise
            log.error("the packer process exited with code %s; starting it again in %.0f s", code,
                      RESTART_AFTER_S)
            await asyncio.sleep(RESTART_AFTER_S)

    async def start(self) -> asyncio.subprocess.Process:
        # In a session of its own: a terminal's Ctrl-C reaches the worker alone, which stops the
        # child itself (_stop); in the worker's, the child exited first and was restarted as failed.
        return await asyncio.create_subprocess_exec(*self.command, stdout=asyncio.subprocess.PIPE,
                                                    start_new_session=True)

    def _take(self, line: bytes) -> None:
        try:
            self.reported.add(orjson.loads(line))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("packer process: unreadable report %r", line[:200])

    @staticmethod
    async def _stop(child: asyncio.subprocess.Process) -> None:
        if child.returncode is None:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 10)
            except TimeoutError:
                child.kill()
                await child.wait()


def exit_with_parent(parent_pid: int) -> None:
    """Be sent SIGTERM when the parent dies; exit now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(0)


async def run_child(settings: AggregatorSettings, write: Callable[[bytes], Any]) -> None:
    packer = Packer(settings)
    await packer.start()
    packing = asyncio.create_task(packer.run())
    try:
        while not packing.done():
            write(orjson.dumps(report()) + b"\n")
            await asyncio.wait([packing], timeout=REPORT_EVERY_S)
        packing.result()  # raises what stopped it
    finally:
        packing.cancel()
        await packer.stop()


def main() -> None:
    exit_with_parent(int(sys.argv[1]))
    settings = AggregatorSettings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s packer %(levelname)s %(message)s")
    tune_gc()
    keep_freed_memory()
    os.nice(settings.packer_niceness)  # yields the CPU to the agent (AggregatorSettings says why)
    loop = asyncio.new_event_loop()
    main_task = loop.create_task(run_child(settings, _stdout_line))
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        loop.run_until_complete(main_task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()


def _stdout_line(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
