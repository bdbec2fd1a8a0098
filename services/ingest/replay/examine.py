"""Lines of a history file → the records ingest would write for them, and the reasons it refuses
the rest, through ingest's own functions.

NDJSON: each line is what one line of an `application/x-ndjson` body to `/v1/events` is, checked by
`intake.check_events`. Sync: each line is one body of the portal's sync (the envelope, or the bare
list of dossiers `/dvcqg/DongBoHoSoMC` takes), read by `dvcqg.intake.parse_call` and checked by
`examine_call` against the agency codes as ingest holds them. A refusal is written with its line
number (and, in the sync format, the item's index) and the errors as ingest answers them: the field
and the reason, never the line's content, so no applicant's data reaches the rejects file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from services.contract.agencies import AgencyBook
from services.contract.event_validation import EventValidator
from services.ingest.dvcqg.intake import DOSSIERS, Intake, MalformedCall, examine_call, parse_call
from services.ingest.intake import check_events
from services.ingest.keys import ALL_UNITS, ApiKey
from services.ingest.producer import Record
from services.ingest.replay.position import Counts

Line = tuple[int, bytes]  # (1-based line number, the line without its newline)
Reject = dict[str, Any]


@dataclass
class Examined:
    records: list[Record] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


class Examiner(Protocol):
    def examine(self, lines: Sequence[Line], now_us: int, counts: Counts) -> Examined: ...


def _too_long(number: int, line: bytes, max_line_bytes: int) -> Reject | None:
    if len(line) <= max_line_bytes:
        return None
    return {"line": number, "errors": [{"field": "", "reason": f"the line is {len(line):,} bytes; at most "
                                        f"{max_line_bytes:,} accepted (ingest's largest body)"}]}


@dataclass
class NdjsonExaminer:
    """One event per line, as `/v1/events` takes NDJSON."""

    validator: EventValidator
    max_event_bytes: int
    max_line_bytes: int

    def examine(self, lines: Sequence[Line], now_us: int, counts: Counts) -> Examined:
        out = Examined()
        values: list[object] = []
        raws: list[bytes] = []
        numbers: list[int] = []
        for number, line in lines:
            refused = _too_long(number, line, self.max_line_bytes)
            if refused is None:
                try:
                    values.append(orjson.loads(line))
                    raws.append(line)
                    numbers.append(number)
                    continue
                except orjson.JSONDecodeError as exc:
                    # orjson's message names the position, never the text.
                    refused = {"line": number, "errors": [{"field": "", "reason": f"malformed JSON at "
                                                           f"column {exc.colno}: {exc.msg}"}]}
            out.rejects.append(refused)
        # The lines' bytes go with them: the schema's check then runs on those (msgspec, in C), with
        # the verdict it gives the decoded event (event_validation.py; the aggregator's packer does so).
        batch = check_events(values, self.validator, self.max_event_bytes, now_us, raws)
        out.records = batch.records
        for result in batch.results:
            if result["status"] == "rejected":
                out.rejects.append({"line": numbers[result["index"]], "errors": result["errors"]})
        out.rejects.sort(key=lambda r: r["line"])
        counts.lines += len(lines)
        counts.events += len(out.records)
        counts.refused += len(out.rejects)
        return out


@dataclass
class SyncExaminer:
    """One sync body per line (envelope or bare list; a bare list is `DongBoHoSoMC`), as the sync
    intake takes it. `key_id` names the writer in the events' `source` (`dvcqg:<key_id>`), as a
    sync client's key does; the replay may write every unit."""

    validator: EventValidator
    agencies: AgencyBook
    max_event_bytes: int
    max_line_bytes: int
    max_items: int
    key_id: str

    def examine(self, lines: Sequence[Line], now_us: int, counts: Counts) -> Examined:
        out = Examined()
        intake = Intake(ApiKey(self.key_id, frozenset({ALL_UNITS})), self.agencies, self.validator,
                        self.max_event_bytes, now_us)
        for number, line in lines:
            refused = _too_long(number, line, self.max_line_bytes)
            if refused is None:
                try:
                    call = parse_call(line, DOSSIERS, None, self.max_items)
                except MalformedCall as exc:
                    refused = {"line": number, "errors": [{"field": "", "reason": str(exc)}]}
            if refused is not None:
                out.rejects.append(refused)
                continue
            batch = examine_call(call, intake)
            out.records.extend(batch.records)
            counts.taken += batch.taken
            for result in batch.results:
                if result["error_code"] != "0":
                    out.rejects.append({"line": number, "index": result["index"], "errors": [
                        {"field": e["field"], "reason": e["message"]} for e in result["errors"]]})
        counts.lines += len(lines)
        counts.events += len(out.records)
        counts.refused += len(out.rejects)
        return out
