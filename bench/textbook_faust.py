"""Baseline (b): textbook Faust, as its docs teach it. Run as a Faust worker by the benchmark.

One agent, `group_by(unit)` (a repartition through Kafka), and a `Table` updated per event. It
writes the elapsed time from its first to its N-th event to BENCH_RESULT and exits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import faust

BROKER = os.environ["BENCH_BROKER"]
TOPIC = os.environ["BENCH_TOPIC"]
EXPECTED = int(os.environ["BENCH_EXPECTED"])
RESULT = Path(os.environ["BENCH_RESULT"])


class FilingEvent(faust.Record, serializer="json"):
    event_id: str
    event_type: str
    unit_code: str


app = faust.App(f"textbook-{TOPIC}", broker=f"kafka://{BROKER}", store="memory://",
                datadir=os.environ.get("BENCH_DATADIR", "/tmp/textbook-faust"), web_enabled=False,
                topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "4")))
events_topic = app.topic(TOPIC, value_type=FilingEvent)
counts = app.Table("counts", default=int)
progress = {"n": 0, "t0": 0.0}


@app.agent(events_topic)
async def count_events(stream: faust.StreamT[FilingEvent]) -> None:
    async for event in stream.group_by(FilingEvent.unit_code):
        if progress["n"] == 0:
            progress["t0"] = time.perf_counter()
        counts[f"{event.unit_code}:{event.event_type}"] += 1
        progress["n"] += 1
        if progress["n"] == EXPECTED:
            RESULT.write_text(f"{EXPECTED} {time.perf_counter() - progress['t0']}")  # noqa: ASYNC240 - once


if __name__ == "__main__":
    app.main()
