"""Live to the ingest's national-portal sync, as a provincial system's existing sync client sends.

It logs in at `/dvcqg/login` with the writer key (username = the key's id, password = its secret),
then posts the dossier states `dvcqg_sync.as_sync` made, as `DongBoHoSoMC` envelopes to
`/dvcqg/sync`: one call per agency, at most `per_call` dossiers each. A session that has expired
(401) is renewed by logging in again, once per call. The feed's other items, the units that still
send events, go to `/v1/events` as `Sender` sends them; retries and Retry-After are `Sender`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson

from services.simulator.delivery import SYNC_KINDS, Delivery
from services.simulator.live import IngestRefused, LiveTally, Sender, batch_outcome

LOGIN_PATH = "/dvcqg/login"
SYNC_PATH = "/dvcqg/sync"
JSON = {"Content-Type": "application/json"}


class SyncSender(Sender):
    def __init__(self, client: httpx.Client, api_key: str, tally: LiveTally, *, per_call: int = 100,
                 **options: Any) -> None:
        super().__init__(client, api_key, tally, **options)
        self.per_call = per_call
        self.key_id, _, self.secret = api_key.partition(".")
        self.session: str | None = None

    def login(self) -> str:
        credentials = orjson.dumps({"username": self.key_id, "password": self.secret})
        response = self.deliver(LOGIN_PATH, credentials, JSON)
        session = response.json().get("session") if response.is_success else None
        if not isinstance(session, str):
            raise IngestRefused(f"no session from {LOGIN_PATH} ({response.status_code}): "
                                f"{response.text[:300]}", response.status_code)
        self.tally.logins += 1
        self.session = session
        return session

    def send(self, items: list[Delivery]) -> None:
        events = [item for item in items if item.kind not in SYNC_KINDS]
        if events:
            super().send(events)
        by_agency: dict[str, list[Any]] = {}
        for item in items:
            if item.kind in SYNC_KINDS:
                assert isinstance(item.payload, dict)
                by_agency.setdefault(item.payload["MaDonViXuLy"], []).append(item.payload)
        for agency, dossiers in by_agency.items():
            for start in range(0, len(dossiers), self.per_call):
                self.call(agency, dossiers[start:start + self.per_call])

    def call(self, agency: str, dossiers: list[Any]) -> None:
        renewed = False
        while True:
            envelope = {"session": self.session or self.login(), "madonvi": agency, "service": "DongBoHoSoMC",
                        "isUpdating": "True", "data": dossiers}
            try:
                response = self.deliver(SYNC_PATH, orjson.dumps(envelope), JSON)
            except IngestRefused as exc:
                if exc.status != 401 or renewed:
                    raise
                renewed, self.session = True, None  # the session expired: log in again
                continue
            taken, refused = batch_outcome(response, len(dossiers))
            self.tally.sync_calls += 1
            self.tally.taken += taken
            self.tally.refused += refused
            return


def units_filter(spec: str | None) -> Callable[[str], bool] | None:
    """`--sync-units`: `all`, or codes separated by commas; None when not given."""
    if not spec:
        return None
    if spec.strip() == "all":
        return lambda _: True
    codes = frozenset(code.strip() for code in spec.split(",") if code.strip())
    return codes.__contains__
