"""Applies packs of events to the units' state exactly once, whatever Kafka delivers again.

The state is two tables: a filing's record (its events, each with the source offset it came
from) and a unit's record (its day buckets, pending index, and the last source offset applied to
it). Table writes are sent without waiting, and the next pack to apply is recorded only once Kafka
has them; a crash can keep any part of the writes made since, in each table's order, the packs since
are applied again, and the packer may deliver events again. The offsets make every replay exact:

- an event_id new to its filing is added; its delta reaches the unit unless the unit's record
  already covers that offset (the unit write survived, the filing write did not);
- an event_id stored with the *same* offset is a replay: if the unit's record does not yet cover
  it, the unit gets the delta of this one event, computed from the filing's events before and up
  to that offset (the deltas of a filing's replayed events add up to exactly the lost ones);
- an event_id stored with a *different* offset is the source sending it twice: ignored.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import msgspec
import orjson

from services.aggregator import metrics
from services.aggregator.figures import FIRST_DAY, LAST_DAY, KeptPeriods, day_record, figures_json
from services.aggregator.hcm_time import US_PER_SECOND, hcm_day
from services.aggregator.late_filings import FilingLedger, entry_of, filings_record, first_procedure, spans
from services.aggregator.portal_rules import PortalFiling
from services.aggregator.rules import (
    EMPTY_FILING,
    EVENT_TYPES,
    SUBMITTED,
    Event,
    FilingState,
    Fold,
    can_forget,
    contribution,
    delta,
    fold_of,
    retention_start,
    step,
)
from services.aggregator.unit_state import UnitState

log = logging.getLogger(__name__)
_new: Final = tuple.__new__  # builds a NamedTuple in C (see rules.py)
_encode: Final = msgspec.msgpack.Encoder().encode  # a filing's record (Filing.to_bytes)
_decode: Final = msgspec.msgpack.Decoder().decode
# What became of an event, as counted in the events metric.
OUTCOMES: Final = ("applied", "replayed", "duplicate", "too_late", "failed")
APPLIED: Final = 0
REPLAYED: Final = 1
DUPLICATE: Final = 2
TOO_LATE: Final = 3
FAILED: Final = 4
assert tuple(range(len(OUTCOMES))) == (APPLIED, REPLAYED, DUPLICATE, TOO_LATE, FAILED)
# Of a reason to dead-letter an event that could not be counted, at most this many characters.
MAX_REASON_CHARS: Final = 500
_TYPES: Final = len(EVENT_TYPES)  # the tally packs (outcome, type) into outcome * _TYPES + type
KEY_SEPARATOR: Final = "\x1f"  # cannot occur in a unit code or a filing id (schema patterns)


@dataclass(slots=True)
class Unit:
    partition: int
    state: UnitState = field(default_factory=UnitState)
    last_offset: int = -1
    published_overdue: tuple[int, int] | None = None  # (press-style, 766) overdue now, when published
    published_at: float = float("-inf")  # monotonic time of the last record published
    lists_published_at: float = float("-inf")  # the same, of its `unit-filings` record
    # Its open and late filings (late_filings.py); None until rebuilt from the filings table, for
    # a unit read from its record. The filings whose entries to set again when next published:
    filings: FilingLedger | None = field(default_factory=FilingLedger)
    noted: dict[str, Filing] = field(default_factory=dict)
    kept_periods: KeptPeriods = field(default_factory=dict)  # its last record's periods (figures.py)

    def to_bytes(self) -> bytes:
        return orjson.dumps({"p": self.partition, "o": self.last_offset, "u": self.state.to_json()})

    @classmethod
    def from_bytes(cls, data: bytes) -> Unit:
        obj = orjson.loads(data)
        return cls(obj["p"], UnitState.from_json(obj["u"]), obj["o"], filings=None)


class Filing:
    # A class of its own, not a dataclass: compiled (compiled.py), a dataclass is made through the
    # Python __init__ it generates (some 2,000 instructions), this __init__ in C; one is made for
    # every new filing and every record read.
    __slots__ = ("fold", "offsets", "procedure", "state")

    def __init__(self, state: FilingState, offsets: dict[str, int], fold: Fold | None = None,
                 procedure: str | None = None) -> None:
        self.state = state
        self.offsets = offsets  # event_id -> the source offset it was first applied from
        # Where the fold of `state` ends (None: not known, computed when needed). Stored with the
        # filing, so that an event coming after all the others (most do) is applied without a fold.
        self.fold = fold
        self.procedure = procedure  # its first submission's procedure code (late_filings.py)

    def to_bytes(self) -> bytes:
        # [offsets, events, fold, procedure]: what the filing holds, as it holds it, with no list
        # built per event (one record is written for most events applied), in MessagePack: its
        # integers are binary, where JSON's spell out each microsecond timestamp in decimal digits
        # (2.0 against 2.5 µs a record and 256 against 391 bytes on the benchmark's filings).
        fold = self.fold
        return _encode((self.offsets, self.state, None if fold is None else fold.fields(), self.procedure))

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Filing:
        if data is None:
            return cls(EMPTY_FILING, {})
        offsets, events, fold, *procedure = _decode(data)  # no procedure: written before it was kept
        if fold is not None:
            pending, portal_pending, closed_at, paused, portal = fold
            fold = Fold(None if pending is None else tuple(pending),
                        None if portal_pending is None else tuple(portal_pending), closed_at,
                        None if paused is None else tuple(paused),
                        None if portal is None else _new(PortalFiling, portal))
        return cls(tuple(map(tuple, events)), offsets, fold, procedure[0] if procedure else None)

    def known_fold(self) -> Fold:
        if self.fold is None:
            self.fold = fold_of(contribution(self.state))
        return self.fold

    def up_to(self, offset: int, inclusive: bool) -> FilingState:
        offsets = self.offsets
        if inclusive:
            return tuple(s for s in self.state if offsets[s[2]] <= offset)
        return tuple(s for s in self.state if offsets[s[2]] < offset)


@dataclass(slots=True)
class PackResult:
    filing_changes: dict[bytes, bytes | None] = field(default_factory=dict)  # for the changelog
    # Records of changed filings that left the cache, by partition: for the table's store, which
    # holds a filing's changes only once it leaves the cache or at the next unstored_records.
    evicted: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    # (source offset, event, reason): events to dead-letter
    rejected: list[tuple[int, Event, str]] = field(default_factory=list)


class Engine:
    def __init__(self, retention_days: int, clock: Callable[[], float] = time.time,
                 filing_cache_size: int = 100_000) -> None:
        self.retention_days = retention_days
        self.clock = clock
        # Filings as last changed, by key, with their partition: most events find their filing
        # here rather than paying a RocksDB read and a decode. Oldest loaded first out.
        # (An OrderedDict: taking the oldest out of a plain dict rescans the slots freed before.)
        self._filing_cache: OrderedDict[bytes, tuple[int, Filing]] = OrderedDict()
        self.filing_cache_size = filing_cache_size
        # partition -> key -> the latest record of a cached filing changed since its record last
        # went to the table's store (the changelog has every change at once). The store is written
        # back, as Kafka Streams' record caches write theirs: when a changed filing leaves the
        # cache, or when unstored_records is asked (every 30 s, filing_store.py): most filings change a few
        # times while cached, and a RocksDB write was a twentieth of the worker's time. The record
        # is kept, not made again then: a filing leaving the cache is no longer in the CPU's.
        self._unstored: dict[int, dict[bytes, bytes]] = {}
        self.units: dict[str, Unit] = {}
        self.dirty: set[str] = set()
        # Units whose figures went out since their lists last did (filings_due).
        self.lists_due: set[str] = set()
        self.applied = 0
        self._published_day: int | None = None
        self._swept_day: int | None = None
        self._next_pack: dict[int, int] = {}  # partition -> the packed offset expected next
        self.unpublishable: set[str] = set()  # units whose figures failed when last due
        # partition -> its units changed since their table records were last made (unit_records)
        self._unsaved: dict[int, set[str]] = {}

    def now(self) -> float:
        return self.clock()

    # -- state owned by this worker -------------------------------------------------------------

    def load_missing(self, stored: Iterable[tuple[str, bytes]]) -> int:
        """Take the units not yet in memory from their table records, to be published again."""
        loaded = 0
        for unit_code, data in stored:
            if unit_code not in self.units:
                self.units[unit_code] = Unit.from_bytes(data)
                self.dirty.add(unit_code)
                loaded += 1
        return loaded

    def unit_count(self) -> int:
        return len(self.units)

    def dirty_count(self) -> int:
        return len(self.dirty)

    # -- events -----------------------------------------------------------------------------------

    def apply_pack(self, partition: int, pack: Sequence[Sequence[Any]],
                   get_filing: Callable[[bytes], bytes | None],
                   get_unit: Callable[[bytes], bytes | None], packs: range | None = None) -> PackResult:
        """Apply the events of one or more consecutive packs, each a row `[source offset, *Event]`
        (the packer decodes and validates them); `get_filing` and `get_unit` read the durable
        tables by key.

        `packs` are the packs' own offsets on the packed topic. Packs of a partition have
        consecutive offsets, so a gap means other workers applied the packs in between (this one
        lost the partition for a while): the units in memory are stale and are read again from
        the table, which the rebalance restored.
        """
        if packs is not None:
            if self._next_pack.get(partition) != packs.start:
                self.drop_partitions([partition])
            self._next_pack[partition] = packs.stop
        result = PackResult()
        now_us = round(self.clock() * US_PER_SECOND)
        touched: set[str] = set()
        tally = [0] * (len(OUTCOMES) * _TYPES)  # events by outcome * _TYPES + type
        kept_from = retention_start(now_us, self.retention_days)  # older is too late
        oldest = now_us
        failed = 0  # events that could not be counted
        units = self.units
        cache = self._filing_cache
        unstored = self._unstored.setdefault(partition, {})
        for item in pack:
            # A decoded pack's rows are tuples, which `tuple` returns as they are (a list, as tests
            # give, is copied): typed as one, compiled, a row is indexed and sliced in C.
            row: tuple[Any, ...] = tuple(item)
            offset = row[0]
            # The rules read an event by index: the row's plain tuple serves, with no Event built
            # (a NamedTuple is a tuple to them, compiled or not); a rejected one is made an Event.
            event = cast(Event, row[1:])
            try:
                # The packer dead-letters events too old when packed; one whose pack waited past the
                # window (a backlog) is refused here, so that a forgotten filing is never counted again.
                if event[0] < kept_from:
                    result.rejected.append((offset, _new(Event, event), "too_late"))
                    tally[TOO_LATE * _TYPES + event[1]] += 1
                    continue
                unit_code = event[7]
                filing_id: str = event[6]
                key = f"{unit_code}{KEY_SEPARATOR}{filing_id}".encode()  # compiled, one string built
                unit = units.get(unit_code)
                if unit is None:
                    # Not yet in memory (new, or just taken over in a rebalance): the table decides.
                    stored = get_unit(unit_code.encode())
                    unit = units[unit_code] = Unit(partition) if stored is None else Unit.from_bytes(stored)
                cached = cache.get(key)
                if cached is None:
                    # Cached at once, and the cache cut back to its size once the pack is applied.
                    filing = Filing.from_bytes(get_filing(key))
                    cache[key] = (partition, filing)
                else:
                    filing = cached[1]
                if event[2] in filing.offsets:
                    outcome = self._apply_again(unit, filing, event, offset)
                else:  # the usual event: new to its filing (inline, as it runs for nearly every event)
                    old = filing.fold
                    state, change, fold = step(filing.state, event, old, known_new=True)
                    # When the unit's record already covers this offset, only the filing write was
                    # lost. The unit first: `apply` raises before changing anything or not at all,
                    # so a failure leaves the filing and the unit as they were.
                    if unit.last_offset < offset and change is not None:
                        unit.state.apply(change)
                    filing.state, filing.fold = state, fold
                    filing.offsets[event[2]] = offset
                    if event[1] == SUBMITTED and len(event) > 8:  # (packs written before it have none)
                        # Its first submission's procedure: usually this event, the filing's first.
                        filing.procedure = event[8] if state[0][2] == event[2] else \
                            first_procedure(state, event, filing.procedure)
                    # Its late-filings entry is set again at publishing when its portal summary
                    # changed (a new object): one dict write here (late_filings.py).
                    if fold is not None and (old is None or fold.portal is not old.portal):
                        unit.noted[filing_id] = filing
                    outcome = APPLIED
            except Exception as exc:  # noqa: BLE001  (any bug: see below)
                # A bug, or a record the rules cannot take (a row packed by another version of the
                # packer, left on the packed topic by an upgrade), must not stop the stream: raised
                # here it would stop the worker again on every restart, the pack being applied again.
                # The event goes to the DLQ with the reason; applying it changes nothing before it
                # can no longer fail, so the unit and the filing stay as they were.
                reason = f"failed: {type(exc).__name__}: {exc}"[:MAX_REASON_CHARS]
                result.rejected.append((offset, _new(Event, event), reason))
                kind = event[1] if len(event) > 1 else None
                if type(kind) is int and 0 <= kind < _TYPES:
                    tally[FAILED * _TYPES + kind] += 1
                if not failed:  # the first of the pack is logged; the rest are counted (a log, not a flood)
                    log.error("the event at offset %d (%.200r) could not be counted and goes to the DLQ: %s",
                              offset, tuple(event), reason)
                failed += 1
                continue
            if outcome == APPLIED:
                # Serialised now, while the filing is still in the CPU's caches: after a batch of
                # thousands of events it is not, and encoding them all then took a few percent
                # more of the engine's time, though a filing changed twice in a batch is now
                # encoded twice.
                result.filing_changes[key] = unstored[key] = filing.to_bytes()
            if unit.last_offset < offset:
                unit.last_offset = offset
            touched.add(unit_code)
            slot = outcome * _TYPES + event[1]
            tally[slot] = tally[slot] + 1  # compiled, C ints (`+=` adds Python objects: unit_state.py)
            if event[0] < oldest:
                oldest = event[0]
        if failed > 1:
            log.error("%d events of the pack could not be counted in all, and go to the DLQ with their "
                      "reasons", failed)
        for _ in range(len(cache) - self.filing_cache_size):
            key, (owner, _) = cache.popitem(last=False)
            record = self._unstored.get(owner, {}).pop(key, None)
            if record is not None:  # the store has an older record of it
                result.evicted.setdefault(owner, {})[key] = record
        self._unsaved.setdefault(partition, set()).update(touched)
        self.dirty |= touched
        self.applied += len(pack)
        # Metrics per pack, not per event: a labelled counter costs about a microsecond a call.
        for index, count in enumerate(tally):
            if count:
                outcome, kind = divmod(index, _TYPES)
                metrics.EVENTS.labels(type=EVENT_TYPES[kind], outcome=OUTCOMES[outcome]).inc(count)
        metrics.EVENT_LAG.observe((now_us - oldest) / US_PER_SECOND)
        return result

    def unit_records(self, partition: int) -> dict[bytes, bytes | None]:
        """The table records of the partition's units changed since last asked. The commit protocol
        writes them just before it records the next pack, about once a second: a unit's record
        (its day rows and pending indexes) is far larger than a batch's change to it, and until the
        record the packs since the last one are applied again after a crash anyway, which the
        filings' stored offsets make exact (see the module's docstring)."""
        units = self.units
        return {code.encode(): units[code].to_bytes() for code in sorted(self._unsaved.pop(partition, ()))
                if code in units}

    def unstored_records(self, partition: int) -> dict[bytes, bytes]:
        """The records of the partition's cached filings changed since their records last went to
        the table's store, for the store (its changelog has them already); asked every 30 s and
        before a clean stop (filing_store.py)."""
        records, self._unstored[partition] = self._unstored.get(partition, {}), {}
        return records

    def unstored_partitions(self) -> list[int]:
        return sorted(partition for partition, keys in self._unstored.items() if keys)

    @staticmethod
    def _apply_again(unit: Unit, filing: Filing, event: Any, offset: int) -> int:
        """An event whose event_id the filing holds: the same offset is a replay, another is the
        source sending it twice (see the module's docstring)."""
        if filing.offsets[event[2]] != offset:
            return DUPLICATE
        if unit.last_offset < offset:
            earlier = contribution(filing.up_to(offset, inclusive=False))
            unit.state.apply(delta(earlier, contribution(filing.up_to(offset, inclusive=True))))
            unit.noted[event[6]] = filing
        return REPLAYED

    # -- retention --------------------------------------------------------------------------------

    def sweep_due(self, now: float) -> bool:
        """True once per Ho Chi Minh day: time to forget filings closed past the retention window."""
        today = hcm_day(round(now * US_PER_SECOND))
        if today == self._swept_day:
            return False
        self._swept_day = today
        return True

    def forgettable(self, items: Iterable[tuple[bytes, bytes]], now: float) -> dict[int, list[bytes]]:
        """Keys of filings closed longer than the retention window, by partition. Their events are
        all too old to be accepted again, so dropping them changes no figure."""
        now_us = round(now * US_PER_SECOND)
        found: dict[int, list[bytes]] = {}
        unreadable = 0
        for key, value in items:
            unit = self.units.get(key.split(KEY_SEPARATOR.encode(), 1)[0].decode())
            if unit is None:
                continue  # not ours (any more): its owner sweeps it
            cached = self._filing_cache.get(key)  # newer than the store's record, if changed since
            try:
                fold = (cached[1] if cached is not None else Filing.from_bytes(value)).known_fold()
            except Exception:  # noqa: BLE001  (a record this version cannot read must not stop the sweep)
                unreadable += 1
                continue
            if can_forget(fold, now_us, self.retention_days):
                found.setdefault(unit.partition, []).append(key)
                self._filing_cache.pop(key, None)  # about to leave the table
                self._unstored.get(unit.partition, {}).pop(key, None)
        if unreadable:
            log.warning("retention: %d filing records could not be read (written by another version?) "
                        "and are kept", unreadable)
        return found

    # -- publishing -------------------------------------------------------------------------------

    def mark_clock_changes(self, now: float) -> None:
        """Units whose overdue-now counts moved with the clock since they were last published: the
        press-style one, and Decision 766's judged now (they part where the sender marked a filing
        overdue early: the press-style count has it then, the portal's only once its due passes)."""
        now_us = round(now * US_PER_SECOND)
        pending = 0
        for unit_code, unit in self.units.items():
            within, overdue = unit.state.pending(now_us)
            pending += within + overdue
            counts = (overdue, unit.state.portal_pending(FIRST_DAY, LAST_DAY, now_us)[1])
            if unit.published_overdue is not None and counts != unit.published_overdue:
                self.dirty.add(unit_code)
        metrics.PENDING.set(pending)
        metrics.UNITS.set(len(self.units))

    def publish_due(self, now: float, min_gap_s: float = 0.0,
                    tick: float = 0.0) -> Iterator[tuple[str, bytes]]:
        """The records to publish now, encoded: changed units, or every unit when the day has rolled.

        A unit published less than `min_gap_s` before `tick` (a monotonic time, apart from the
        figures' clock, which replays freeze) waits for a later call: at most one record per unit
        per gap, yet a unit that changes after a quiet spell goes out at the next call.
        """
        now_us = round(now * US_PER_SECOND)
        today = hcm_day(now_us)
        if self._published_day is not None and today != self._published_day:
            self.dirty.update(self.units)
        self._published_day = today
        # A unit leaves `dirty` as its record is made, not when the round ends: the caller awaits
        # Kafka between records, the agent applies packs meanwhile, and a unit they change again
        # must stay due (replacing the set at the end dropped those changes until the next one).
        # A round broken off (Kafka refused a record) leaves the rest due as they are.
        for unit_code in sorted(self.dirty):
            unit = self.units.get(unit_code)
            if unit is None:
                self.dirty.discard(unit_code)
                continue
            if tick - unit.published_at < min_gap_s:
                continue
            self.dirty.discard(unit_code)
            try:
                record, published_overdue = figures_json(unit_code, unit.state, now, unit.kept_periods)
            except Exception as exc:  # noqa: BLE001  (any bug: one unit must not stop the others)
                self._cannot_publish(unit_code, exc)
                continue
            self._can_publish(unit_code)
            unit.published_overdue = published_overdue
            unit.published_at = tick
            self.lists_due.add(unit_code)
            yield unit_code, record

    def unknown_ledgers(self) -> list[tuple[str, int]]:
        """(unit, partition) of the units whose late-filings ledger is to be rebuilt."""
        return [(code, unit.partition) for code, unit in self.units.items() if unit.filings is None]

    def rebuild_ledger(self, unit_code: str, stored: Iterable[tuple[bytes, bytes]]) -> None:
        """The unit's ledger from its filings' table records (keys `<unit>\x1f<filing id>`)."""
        unit = self.units.get(unit_code)
        if unit is None:
            return
        ledger = FilingLedger()
        for key, value in stored:
            filing = Filing.from_bytes(value)
            fold = filing.known_fold()
            ledger.put(key.decode().split(KEY_SEPARATOR, 1)[1],
                       entry_of(fold.portal, fold.portal_pending, filing.procedure))
        unit.filings = ledger

    def filings_due(self, now: float, min_gap_s: float = 0.0,
                    tick: float = 0.0) -> Iterator[tuple[str, dict[str, Any]]]:
        """The `unit-filings` records (late_filings.py) to publish now: of the units whose figures
        went out since their lists last did, at most one per unit per `min_gap_s` (as publish_due).
        A unit read back from its record waits until its ledger is rebuilt.

        The lists go out less often than the figures: a record lists up to 100 filings for each of
        some thirty periods (tens of kilobytes), and building it costs more than the figures do.
        """
        now_us = round(now * US_PER_SECOND)
        periods = None
        for unit_code in sorted(self.lists_due):
            unit = self.units.get(unit_code)
            if unit is None:
                self.lists_due.discard(unit_code)
                continue
            if unit.filings is None or tick - unit.lists_published_at < min_gap_s:
                continue
            self.lists_due.discard(unit_code)
            try:
                ledger = unit.filings
                self._note(unit, ledger)
                ledger.prune(hcm_day(now_us))
                periods = spans(now_us) if periods is None else periods
                record = filings_record(unit_code, ledger, now_us, periods)
            except Exception as exc:  # noqa: BLE001  (as in publish_due)
                self._cannot_publish(unit_code, exc)
                continue
            unit.lists_published_at = tick
            yield unit_code, record

    def note_filings(self) -> None:
        """Set the ledger entries of the filings changed since, in the units whose lists wait for
        their turn (filings_due): a filing is held in `noted` only until then, not until the lists
        go out, which a busy worker spaces out (publisher.py)."""
        for unit_code in self.lists_due:
            unit = self.units.get(unit_code)
            if unit is not None and unit.filings is not None and unit.noted:
                try:
                    self._note(unit, unit.filings)
                except Exception as exc:  # noqa: BLE001  (as in publish_due)
                    self._cannot_publish(unit_code, exc)

    @staticmethod
    def _note(unit: Unit, ledger: FilingLedger) -> None:
        for filing_id, filing in unit.noted.items():
            fold = filing.known_fold()
            ledger.put(filing_id, entry_of(fold.portal, fold.portal_pending, filing.procedure))
        unit.noted = {}

    def days_due(self, unit_code: str) -> dict[int, tuple[str, dict[str, Any]]]:
        """The unit's day rows changed since last asked, by day, each with its `unit-days` key
        `<unit>|<YYYY-MM-DD>`."""
        unit = self.units.get(unit_code)
        if unit is None or not unit.state.touched:
            return {}
        try:
            due = {day: day_record(unit_code, unit.state, day) for day in sorted(unit.state.touched)}
        except Exception as exc:  # noqa: BLE001  (as in publish_due)
            self._cannot_publish(unit_code, exc)
            return {}
        unit.state.unacknowledged |= unit.state.touched  # until published() or unpublished()
        unit.state.touched = set()
        return {day: (f"{unit_code}|{row['day']}", row) for day, row in due.items()}

    def _cannot_publish(self, unit_code: str, exc: Exception) -> None:
        """Reported, and left until the unit changes again (or the day rolls): retrying at every
        tick would only fill the log."""
        metrics.PUBLISH_FAILURES.inc()
        if unit_code not in self.unpublishable:
            log.error("unit %s: its figures cannot be computed and are not published; every other unit "
                      "goes on", unit_code, exc_info=exc)
        self.unpublishable.add(unit_code)
        metrics.UNPUBLISHABLE.set(len(self.unpublishable))

    def _can_publish(self, unit_code: str) -> None:
        if unit_code in self.unpublishable:
            self.unpublishable.discard(unit_code)
            metrics.UNPUBLISHABLE.set(len(self.unpublishable))
            log.info("unit %s: its figures are published again", unit_code)

    def published(self, days_by_unit: Mapping[str, Iterable[int]]) -> None:
        """Kafka has these day rows: the unit's table record need not keep them any more."""
        for unit_code, days in days_by_unit.items():
            unit = self.units.get(unit_code)
            if unit is not None:
                unit.state.unacknowledged.difference_update(days)

    def unpublished(self, days_by_unit: Mapping[str, Iterable[int]]) -> None:
        """Records that did not reach Kafka: their units and days are due again."""
        for unit_code, days in days_by_unit.items():
            unit = self.units.get(unit_code)
            if unit is not None:
                self.dirty.add(unit_code)
                unit.state.touched.update(days)
                unit.state.unacknowledged.difference_update(days)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget units and cached filings of partitions this worker no longer owns: their next
        owner changes them, and should they come back, their state must be read again from the
        table."""
        gone = set(partitions)
        for partition in gone:
            self._unsaved.pop(partition, None)
            self._unstored.pop(partition, None)  # their changes are in the changelog already
        for code in [code for code, unit in self.units.items() if unit.partition in gone]:
            del self.units[code]
            self.dirty.discard(code)
        cache = self._filing_cache
        for key in [key for key, (partition, _) in cache.items() if partition in gone]:
            del cache[key]
