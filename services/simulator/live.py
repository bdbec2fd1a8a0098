"""Send a feed to the ingest service over HTTP, paced, as a live case-management system would.

Each item goes out once its delivery time has come on the wall clock, so in live mode events
happen as they are sent. Items from before `live_from` (the backfill) go out as fast as
`backfill_rate` allows. Batches are NDJSON `POST /v1/events`; a 503 or 429 means "not now":
the same batch is sent again after Retry-After, which is safe because event ids make the
retry idempotent downstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from services.simulator.delivery import Delivery
from services.simulator.ndjson_file import line_bytes
from services.simulator.tally import Tally

EVENTS_PATH = "/v1/events"
MAX_WAIT_S = 60.0  # never trust a Retry-After that asks for more than this
OTHER_5XX_ATTEMPTS = 10  # a 500 is a bug, not back-pressure: give up eventually


class IngestRefused(RuntimeError):
    """The ingest service will not take our events (bad key, or a persistent server error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LiveTally(Tally):
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    batches: int = 0
    # The portal's sync (sync_live.py): calls, logins, and the dossier states taken or refused.
    sync_calls: int = 0
    logins: int = 0
    taken: int = 0
    refused: int = 0

    def progress(self, elapsed: float) -> str:
        sync = f"; sync: taken {self.taken:,}, refused {self.refused:,}" if self.sync_calls else ""
        return (f"{super().progress(elapsed)}; accepted {self.accepted:,}, rejected {self.rejected:,}, "
                f"retries {self.retries:,}{sync}")

    def summary(self) -> str:
        malformed = sum(self.malformed.values())
        sync = (f"\n  ingest's sync: {self.sync_calls:,} DongBoHoSoMC calls after {self.logins:,} logins, "
                f"dossier states taken {self.taken:,}, refused {self.refused:,}") if self.sync_calls else ""
        return (f"{super().summary()}\n"
                f"  ingest: {self.batches:,} batches, accepted {self.accepted:,}, rejected "
                f"{self.rejected:,} (malformed sent: {malformed:,}), retried {self.retries:,} times{sync}")


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """Retry-After as seconds (either form of the header), or None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return min(max(float(value), 0.0), MAX_WAIT_S)
    except ValueError:
        pass
    try:
        moment: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(moment.timestamp() - now, 0.0), MAX_WAIT_S)


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return len(value)
    return None


def batch_outcome(response: httpx.Response, sent: int) -> tuple[int, int]:
    """(accepted, rejected) of a batch the ingest answered with a final status.

    Read from the body's `accepted` / `rejected` (numbers or lists) when it has them; otherwise
    a success means all accepted and a client error means all rejected.
    """
    success = response.is_success
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        accepted = _count(body.get("accepted"))
        rejected = _count(body.get("rejected"))
        if rejected is None:
            rejected = _count(body.get("errors"))
        if accepted is not None and rejected is None:
            rejected = sent - accepted
        elif rejected is not None and accepted is None:
            accepted = sent - rejected if success else 0
        if accepted is not None and rejected is not None:
            return accepted, rejected
    return (sent, 0) if success else (0, sent)


class Sender:
    """Posts NDJSON batches; retries what is worth retrying, raises IngestRefused otherwise."""

    def __init__(self, client: httpx.Client, api_key: str, tally: LiveTally,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 notice: Callable[[str], None] | None = None):
        self.client = client
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-ndjson"}
        self.tally = tally
        self.clock = clock
        self.sleep = sleep
        self.notice = notice or (lambda _: None)

    def send(self, items: list[Delivery]) -> None:
        """What `send_live` gathered, as one request."""
        self.post([line_bytes(item) for item in items])

    def post(self, lines: list[bytes]) -> None:
        response = self.deliver(EVENTS_PATH, b"\n".join(lines) + b"\n", self.headers)
        accepted, rejected = batch_outcome(response, len(lines))
        self.tally.accepted += accepted
        self.tally.rejected += rejected
        self.tally.batches += 1

    def deliver(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST until a final answer: 429 and 503 after Retry-After, other 5xx a few times, transport
        errors with a backoff; IngestRefused on 401/403 or persistent 5xx."""
        attempt = 0
        server_errors = 0
        while True:
            attempt += 1
            backoff = min(0.2 * 2 ** min(attempt, 8), 5.0)
            try:
                response = self.client.post(path, content=body, headers=headers)
            except httpx.TransportError as exc:
                self.notice(f"ingest unreachable ({exc.__class__.__name__}); retrying in {backoff:.1f}s")
                self._wait(backoff)
                continue
            status = response.status_code
            if status in (429, 503):
                wait = retry_after_seconds(response, self.clock())
                self._wait(backoff if wait is None else wait)
                continue
            if status >= 500:
                server_errors += 1
                if server_errors >= OTHER_5XX_ATTEMPTS:
                    raise IngestRefused(f"ingest keeps answering {status}: {response.text[:300]}", status)
                self._wait(backoff)
                continue
            if status in (401, 403):
                raise IngestRefused(f"ingest refused the key ({status}): {response.text[:300]}", status)
            return response

    def _wait(self, seconds: float) -> None:
        self.tally.retries += 1
        self.sleep(seconds)


def send_live(items: Iterable[Delivery], sender: Sender, *, rate: float, backfill_rate: float,
              live_from: float, limit: int | None = None, batch_size: int = 500,
              progress: Callable[[str], None] | None = None, every_s: float = 5.0) -> LiveTally:
    """Send `items` as their delivery times come, at most `rate` lines/s (backfill: `backfill_rate`)."""
    clock, sleep, tally = sender.clock, sender.sleep, sender.tally
    # In live mode a batch should cover about half a second, so events leave close to their time.
    live_batch = max(1, min(batch_size, int(rate / 2)))
    started = last_report = clock()
    next_slot = started
    batch: list[Delivery] = []
    batch_rate = rate

    def flush() -> None:
        nonlocal next_slot, last_report
        if not batch:
            return
        now = clock()
        if next_slot > now:
            sleep(next_slot - now)
        sender.send(batch)
        next_slot = max(next_slot, clock()) + len(batch) / batch_rate
        for item in batch:  # counted once the ingest has answered, so an interrupt counts true
            tally.add(item)
        batch.clear()
        if progress is not None and clock() - last_report >= every_s:
            last_report = clock()
            progress(tally.progress(last_report - started))

    for item in items:
        if limit is not None and tally.lines + len(batch) >= limit:
            break
        backfill = item.deliver_at < live_from
        if not backfill:
            wait = item.deliver_at - clock()
            if wait > 0:
                flush()  # what is gathered goes now; this item is not due yet
                sleep(wait)
        item_rate = backfill_rate if backfill else rate
        if item_rate != batch_rate:
            flush()
            batch_rate = item_rate
        batch.append(item)
        if len(batch) >= (batch_size if backfill else live_batch):
            flush()
    flush()
    return tally
