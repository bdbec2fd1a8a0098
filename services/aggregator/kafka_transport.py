"""Guards against Faust's 1.5 s fetch wait, which held up a partition's new packs.

Faust's aiokafka driver hard-codes the consumer's `fetch_max_wait_ms` to 1,500. aiokafka keeps one
fetch request in flight per broker and leaves out of it the partitions whose records are still
buffered; that request then waits at the broker up to 1.5 s for data on the other partitions,
while new packs of the partitions left out wait for it to come back. Measured: a 1.1–1.7 s pause
with nothing applied at the end of most benchmark replays, a third of a 200,000-event run of
`python -m bench.aggregator_bench`, and the same wait in live traffic's freshness. 100 ms bounds
it, at the cost of ten empty fetches a second when the topic is idle. How the wait is set (a private
attribute of aiokafka, through private methods of Faust) is in faust_adapter.py.
"""

from __future__ import annotations

from services.aggregator.faust_adapter import FetchWaitTransport
from services.aggregator.packer import FETCH_MAX_WAIT_MS  # the packer's own consumer has the same bound


class Transport(FetchWaitTransport):
    fetch_max_wait_ms = FETCH_MAX_WAIT_MS
