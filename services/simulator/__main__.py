"""Command line: `python -m services.simulator --help`."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from services.common.clock import Clock, ClockSettings
from services.contract.units import DEFAULT_PROVINCE, province_units, provinces, resolve_province
from services.simulator.arrivals import filings_per_day_for_rate
from services.simulator.delivery import Delivery, DeliveryRates
from services.simulator.dvcqg_sync import agency_code, as_sync
from services.simulator.feed import FeedConfig, generate
from services.simulator.lifecycle import LifecycleShares
from services.simulator.live import IngestRefused, LiveTally, Sender, send_live
from services.simulator.localtime import TZ, parse_local
from services.simulator.ndjson_file import write_file
from services.simulator.sync_live import LOGIN_PATH, SYNC_PATH, SyncSender, units_filter

API_KEY_ENV = "SIMULATOR_API_KEY"

DESCRIPTION = """\
Simulate the filing-status events of one province's one-stop shops (real communes and wards
from the vietnam-provinces package, plus the province's departments).

Two ways to run it:

  to a file (deterministic: the same options give the same bytes):
    python -m services.simulator --out events.ndjson --days 30
    python -m services.simulator --out big.ndjson --start 2026-01-01 --events 10000000 \\
        --filings-per-day 50000

  live, to the ingest service (events happen as they are sent; Ctrl-C stops):
    python -m services.simulator --ingest-url http://127.0.0.1:8001 --api-key KEY --rate 20
    python -m services.simulator --ingest-url http://127.0.0.1:8001 --api-key KEY --rate 20 \\
        --backfill-days 2      # first send two days of history, fast

  live, as the national portal's sync (DongBoHoSoMC dossier states, docs/integration.md): log in
  at /dvcqg/login with the key, then send each filing's whole state as it changes, again and out
  of order; agency code of unit U: 000.00.U.H31 (map it first: PUT /v1/admin/agencies/{code}):
    python -m services.simulator --ingest-url http://127.0.0.1:8001 --api-key KEY --sync-units all \\
        --backfill-days 1 --filings-per-day 3000   # the last day at once, then live
    python -m services.simulator --ingest-url http://127.0.0.1:8001 --api-key KEY --rate 20 \\
        --sync-units 31.S03,10510   # these units through the sync, the others as events

The feed is messy on purpose, like real senders: some events come twice, out of order, days
late, again under a new event id, or broken. Each rate is per original event: 0.01 means about
one event in a hundred is affected (or gets an extra line). --clean turns them all off.
"""


def number(group: argparse._ArgumentGroup, flag: str, default: float, text: str) -> None:
    """An option taking a number of the default's type; its help ends with the default."""
    group.add_argument(flag, type=type(default), default=default, help=f"{text} (default %(default)g)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.simulator", description=DESCRIPTION,
                                usage="%(prog)s (--out FILE.ndjson | --ingest-url URL) [options]",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_argument_group("where the events go (choose one)")
    target = where.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, metavar="FILE.ndjson", help="write an NDJSON file")
    target.add_argument("--ingest-url", metavar="URL",
                        help="post to the ingest service, e.g. http://127.0.0.1:8001")

    when = p.add_argument_group("time range (file mode; times without an offset are Vietnam time)")
    when.add_argument("--start", type=parse_local, metavar="DATE[THH:MM]",
                      help="first moment (default: --days before today's midnight)")
    when.add_argument("--end", type=parse_local, metavar="DATE[THH:MM]", help="end, exclusive")
    when.add_argument("--days", type=float, help="length of the range in days (default 30)")
    when.add_argument("--events", type=int, metavar="N",
                      help="stop after N lines; with --start alone the range is open-ended")

    shape = p.add_argument_group("what the province looks like")
    shape.add_argument("--seed", type=int, help="random seed (file default 0; live default: the clock)")
    shape.add_argument("--province", default=str(DEFAULT_PROVINCE),
                       help=f"official code or codename (default {DEFAULT_PROVINCE}, Hải Phòng)")
    shape.add_argument("--filings-per-day", type=float,
                       help="filings on a working day, whole province (file default 3000; "
                            "live default: sized so the busiest hour matches --rate)")
    number(shape, "--online-share-start", 0.55, "share of filings made online at the start")
    number(shape, "--online-share-end", 0.70, "... trending linearly to this at the end")
    number(shape, "--late-share", LifecycleShares().late,
           "share of resolutions after the due time, at the centre of the units' spread "
           "(departments later, communes earlier)")

    mess = p.add_argument_group("delivery effects (rates per original event)")
    default = DeliveryRates()
    mess.add_argument("--duplicate-rate", type=float, default=default.duplicate,
                      help=f"same event again, same event_id (default {default.duplicate})")
    mess.add_argument("--reorder-rate", type=float, default=default.reorder,
                      help=f"held back behind later events (default {default.reorder})")
    mess.add_argument("--reorder-window", type=int, default=default.reorder_window, metavar="SECONDS",
                      help=f"how far back (default {default.reorder_window})")
    mess.add_argument("--late-delivery-rate", type=float, default=default.late,
                      help=f"delivered 1 to --max-late-days days after it happened (default {default.late})")
    mess.add_argument("--max-late-days", type=float, default=default.max_late_days,
                      help=f"(default {default.max_late_days:g})")
    mess.add_argument("--repeat-rate", type=float, default=default.repeat,
                      help="the same transition again under a new event_id, e.g. a second "
                           f"'processed' (default {default.repeat})")
    mess.add_argument("--malformed-rate", type=float, default=default.malformed,
                      help="broken events; in file mode some lines are not JSON at all "
                           f"(default {default.malformed})")
    mess.add_argument("--clean", action="store_true", help="no delivery effects at all")

    live = p.add_argument_group("live mode")
    live.add_argument("--api-key", default=os.environ.get(API_KEY_ENV),
                      help=f"the ingest's writer key (default: ${API_KEY_ENV})")
    number(live, "--rate", 20.0, "events per second at most; the busiest office hour reaches it, nights "
           "and weekends are quieter, as in real life")
    number(live, "--backfill-days", 0.0, "first send this many days of history")
    number(live, "--backfill-rate", 2000.0, "events per second while backfilling")
    number(live, "--batch-size", 500, "lines per request at most")
    live.add_argument("--sync-units", metavar="all|UNIT,...",
                      help="send these units' filings as the national portal's sync (dossier states in "
                           "DongBoHoSoMC calls to /dvcqg/sync, after logging in at /dvcqg/login with the "
                           "key; each state sent up to three times, within --sync-resend-hours, so that an "
                           "older state may come after a newer one), the other units' as events; all: "
                           "the whole province")
    number(live, "--sync-per-call", 100, "dossiers per sync call at most")
    number(live, "--sync-resend-hours", 6.0, "a dossier state is sent again within this many hours")

    info = p.add_argument_group("information")
    info.add_argument("--list-provinces", action="store_true", help="print the 34 provinces and exit")
    info.add_argument("--list-units", action="store_true", help="print the province's unit tree and exit")
    return p


def _delivery(args: argparse.Namespace, file_mode: bool) -> DeliveryRates:
    if args.clean:
        return DeliveryRates.clean()
    return DeliveryRates(duplicate=args.duplicate_rate, reorder=args.reorder_rate,
                         reorder_window=args.reorder_window, late=args.late_delivery_rate,
                         max_late_days=args.max_late_days, repeat=args.repeat_rate,
                         malformed=args.malformed_rate, not_json=file_mode)


def _file_range(args: argparse.Namespace, clock: Clock) -> tuple[datetime, datetime | None]:
    days = timedelta(days=args.days if args.days is not None else 30)
    if args.start is not None and args.end is not None:
        return args.start, args.end
    if args.start is not None:
        open_ended = args.events is not None and args.days is None
        return args.start, None if open_ended else args.start + days
    # The only reading of the clock in file mode: a default range that ends today, so the file
    # lands inside the aggregator's retention. Pass --start for byte-identical reruns.
    end = args.end or datetime.fromtimestamp(clock(), TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - days, end


def _config(args: argparse.Namespace, start: datetime, end: datetime | None, seed: int,
            filings_per_day: float, file_mode: bool) -> FeedConfig:
    return FeedConfig(start=start, end=end, seed=seed, province=args.province,
                      filings_per_day=filings_per_day, online_share_start=args.online_share_start,
                      online_share_end=args.online_share_end,
                      shares=replace(LifecycleShares(), late=args.late_share),
                      delivery=_delivery(args, file_mode))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run_file(args: argparse.Namespace, clock: Clock) -> int:
    start, end = _file_range(args, clock)
    seed = args.seed if args.seed is not None else 0
    config = _config(args, start, end, seed, args.filings_per_day or 3000.0, file_mode=True)
    _say(f"writing {args.out}: province {args.province}, seed {seed}, from {start.isoformat()} "
         f"to {end.isoformat() if end else 'open end'}"
         + (f", at most {args.events:,} lines" if args.events else ""))
    started = time.monotonic()
    tally = write_file(generate(config), args.out, limit=args.events, progress=_say)
    elapsed = time.monotonic() - started
    _say(tally.summary())
    _say(f"done in {elapsed:.1f}s ({tally.lines / max(elapsed, 1e-9):,.0f} lines/s)")
    return 0


def _sync_filter(args: argparse.Namespace) -> Callable[[str], bool] | None:
    """The units whose filings go through the sync; ValueError naming a unit not in the province."""
    synced = units_filter(args.sync_units)
    if synced is not None and args.sync_units.strip() != "all":
        known = {unit.code for unit in province_units(args.province)}
        unknown = sorted(code.strip() for code in args.sync_units.split(",") if code.strip() not in known)
        if unknown:
            raise ValueError(f"--sync-units: not units of province {args.province}: {', '.join(unknown)} "
                             "(see --list-units)")
    return synced


def _run_live(args: argparse.Namespace, clock: Clock) -> int:
    if not args.api_key:
        _say(f"live mode needs --api-key (or ${API_KEY_ENV})")
        return 2
    if args.start or args.end or args.days:
        _say("live mode runs from now: use --backfill-days for history, not --start/--end/--days")
        return 2
    now = clock()
    seed = args.seed if args.seed is not None else int(now)
    filings = args.filings_per_day or filings_per_day_for_rate(args.rate, args.online_share_start)
    start = datetime.fromtimestamp(now, TZ) - timedelta(days=args.backfill_days)
    config = _config(args, start, None, seed, filings, file_mode=False)
    synced = _sync_filter(args)
    _say(f"sending to {args.ingest_url}: province {args.province}, seed {seed}, "
         f"{filings:,.0f} filings per working day, at most {args.rate:g} events/s"
         + (f", after {args.backfill_days:g} days of backfill at {args.backfill_rate:g}/s"
            if args.backfill_days else ""))
    items: Iterator[Delivery] = generate(config)
    if synced is not None:
        _say(f"  as the national portal's sync ({SYNC_PATH}, logged in at {LOGIN_PATH}): the filings of "
             + ("every unit" if args.sync_units.strip() == "all" else f"units {args.sync_units}")
             + f", agency codes {agency_code('<unit>')}; each state sent up to 3 times within "
             f"{args.sync_resend_hours:g} h, in calls of at most {args.sync_per_call}")
        items = as_sync(items, random.Random(f"{seed}:sync"), synced,
                        window_s=max(1, round(args.sync_resend_hours * 3600)))
    tally = LiveTally()
    with httpx.Client(base_url=args.ingest_url, timeout=30.0) as client:
        # Events are sent when the shared clock reaches their time, so that the ingest and the
        # aggregator, on the same clock, see them happen now.
        sender = (Sender(client, args.api_key, tally, clock=clock, notice=_say) if synced is None else
                  SyncSender(client, args.api_key, tally, per_call=args.sync_per_call, clock=clock,
                             notice=_say))
        try:
            send_live(items, sender, rate=args.rate, backfill_rate=args.backfill_rate,
                      live_from=now, limit=args.events, batch_size=args.batch_size, progress=_say)
        except KeyboardInterrupt:
            _say("interrupted")
        except IngestRefused as exc:
            _say(f"stopped: {exc}")
            _say(tally.summary())
            return 1
    _say(tally.summary())
    return 0


def _list_provinces() -> None:
    for province in provinces():
        print(f"{int(province.code):02d}  {province.codename:<16} {province.name}")


def _list_units(province: str) -> None:
    for unit in province_units(province):
        print(f"{unit.code:<10} {unit.level:<12} {unit.parent_code or '':<8} {unit.name}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        resolve_province(args.province)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list_provinces:
        _list_provinces()
        return 0
    if args.list_units:
        _list_units(args.province)
        return 0
    if args.out is None and args.ingest_url is None:
        parser.error("say where the events go: --out FILE.ndjson or --ingest-url URL")
    if args.out is not None and args.sync_units:
        parser.error("--sync-units is for live mode (--ingest-url): the sync is a conversation with ingest")
    # Like every service's "now": ONESTOP_CLOCK_START, or the machine's clock.
    clock = ClockSettings().clock()
    try:
        if args.out is not None:
            return _run_file(args, clock)
        return _run_live(args, clock)
    except ValueError as exc:  # a config the feed refuses, e.g. a share above 1
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
