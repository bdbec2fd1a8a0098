"""`python -m services.ingest.replay FILE [--format ndjson|sync] [--resume | --restart]`: replay a history
file into the events topic through ingest's checks. Cluster and topic from `KAFKA_*`, limits and the
clock from `INGEST_*` and `ONESTOP_CLOCK_START`, as the ingest service reads them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from services.common.topics import ensure_topics
from services.contract.event_validation import EventValidator
from services.ingest.dvcqg.agencies import AgencyDirectory
from services.ingest.replay.examine import Examiner, NdjsonExaminer, SyncExaminer
from services.ingest.replay.position import Identity, Position, PositionRefused, load, starting_point
from services.ingest.replay.progress import ProgressReporter, duration_text
from services.ingest.replay.run import ReplayFiles, replay
from services.ingest.settings import IngestSettings

log = logging.getLogger("services.ingest.replay")
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.ingest.replay", description=(
        "Replay a history file into the events topic with ingest's validation, keys and event ids. "
        "Kafka from KAFKA_* (KAFKA_BOOTSTRAP_SERVERS, KAFKA_EVENTS_TOPIC); limits from INGEST_*."))
    p.add_argument("file", type=Path, help="NDJSON events, or sync bodies one per line")
    p.add_argument("--format", choices=("ndjson", "sync"), default="ndjson",
                   help="ndjson: one event per line, as POST /v1/events takes; sync: one DongBoHoSoMC body "
                        "per line (the envelope or the bare list of dossiers), as POST /dvcqg/sync takes, "
                        "the agencies placed by the unit-agencies topic (default: ndjson)")
    p.add_argument("--position", type=Path, help="the position file (default: FILE.position.json)")
    p.add_argument("--rejects", type=Path, help="the refused lines' reasons (default: FILE.rejects.ndjson)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from the position file")
    again.add_argument("--restart", action="store_true", help="start from the beginning, whatever the "
                       "position file says (the rejects file starts empty)")
    p.add_argument("--topic", help="default: KAFKA_EVENTS_TOPIC (filing-events)")
    p.add_argument("--key-id", default="replay", help="sync: the writer named in the events' source, "
                   "dvcqg:<key id> (default: replay)")
    p.add_argument("--ack-every", type=int, default=20_000, help="lines (or events) between two positions "
                   "acknowledged by Kafka (default: 20000)")
    p.add_argument("--agencies-timeout", type=float, default=60.0,
                   help="sync: seconds to wait for the agency codes to be read (default: 60)")
    return p


async def _agencies(settings: IngestSettings, timeout_s: float) -> AgencyDirectory:
    directory = AgencyDirectory(settings.kafka)
    await directory.start()
    deadline = time.monotonic() + timeout_s
    while not directory.ready:
        if time.monotonic() > deadline:
            await directory.stop()
            raise PositionRefused(f"the agency codes ({settings.kafka.agencies_topic}) were not read within "
                                  f"{timeout_s:g} s; is Kafka at {settings.kafka.bootstrap_servers}?")
        await asyncio.sleep(0.1)
    return directory


async def run(args: argparse.Namespace, settings: IngestSettings,
              on_position: Callable[[Position], None] | None = None) -> Position:
    """The replay `args` ask for; `on_position` as in `run.replay`."""
    source: Path = args.file
    files = ReplayFiles(source, args.position or source.with_name(source.name + ".position.json"),
                        args.rejects or source.with_name(source.name + ".rejects.ndjson"))
    topic = args.topic or settings.kafka.events_topic
    start = starting_point(load(files.position), Identity.of(source), args.format, topic, args.resume,
                           args.restart)
    if args.topic is None:
        await ensure_topics(settings.kafka)
    validator = EventValidator.from_files(settings.schema_files)
    directory = None
    examiner: Examiner
    if args.format == "sync":
        directory = await _agencies(settings, args.agencies_timeout)
        log.info("%d agency codes mapped to units", len(directory.book.units))
        examiner = SyncExaminer(validator, directory.book, settings.max_event_bytes, settings.max_body_bytes,
                                settings.sync_max_items, args.key_id)
    else:
        examiner = NdjsonExaminer(validator, settings.max_event_bytes, settings.max_body_bytes)
    if start.offset:
        log.info("resuming at line %s (byte %s of %s)", f"{start.line + 1:,}", f"{start.offset:,}",
                 f"{start.file.size:,}")
    progress = ProgressReporter(start.file.size, start.offset, start.counts.events)
    try:
        done = await replay(files, start, examiner, settings, topic, ack_every=args.ack_every,
                            progress=progress, on_position=on_position)
    finally:
        if directory is not None:
            await directory.stop()
    progress.finish(done.offset, done.counts.events)
    return done


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    if args.ack_every < 1:
        parser().error("--ack-every must be at least 1")
    settings = IngestSettings()
    started = time.monotonic()
    try:
        done = asyncio.run(run(args, settings))
    except PositionRefused as exc:
        log.error("%s", exc)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        log.error("interrupted; what Kafka acknowledged is in the position file: --resume continues")
        return EXIT_INTERRUPTED
    elapsed = time.monotonic() - started
    c = done.counts
    rejects = args.rejects or args.file.with_name(args.file.name + ".rejects.ndjson")
    sync = f", {c.taken:,} items taken" if args.format == "sync" else ""
    sys.stderr.write(f"replayed {args.file} to its end: {c.lines:,} lines, {c.events:,} events on "
                     f"{done.topic}{sync}, {c.refused:,} refused"
                     + (f" (reasons in {rejects})" if c.refused else "")
                     + f"; this run {duration_text(elapsed)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
