"""Writer API keys: `<key_id>.<secret>`, kept only as sha256(secret) with the units the key may write.

The keys file is JSON, `{"keys": {"<key_id>": {"sha256": "<hex>", "units": ["26734"], ...}}}`;
`"units": ["*"]` means every unit. Issue and revoke keys with the CLI:

    python -m services.ingest.keys new --units 26734,26737 --file keys.json   # prints the key once
    python -m services.ingest.keys list --file keys.json
    python -m services.ingest.keys revoke <key_id> --file keys.json

The service re-reads the file when it changes, so issuing or revoking needs no restart.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

ALL_UNITS = "*"
# Compared against when the key_id is unknown, so an unknown id costs the same work as a wrong secret.
_NO_HASH = "0" * 64


def hash_secret(secret: str) -> str:
    # A plain sha256 suffices: the secrets are 256-bit random tokens, not passwords, so there is nothing
    # for a slow password hash to protect against, and every request pays for the check.
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An authenticated writer: who it is and which units it may write."""

    key_id: str
    units: frozenset[str]

    def may_write(self, unit_code: str) -> bool:
        return ALL_UNITS in self.units or unit_code in self.units


@dataclass(frozen=True, slots=True)
class StoredKey:
    sha256: str
    units: tuple[str, ...]
    created_at: str = ""
    note: str = ""


def new_key(units: Iterable[str], note: str = "") -> tuple[str, str, StoredKey]:
    """A fresh key: (key_id, the full key to hand out once, what to store)."""
    units = tuple(units)
    if not units or any(not u or u != u.strip() for u in units):
        raise ValueError("give at least one unit code (or '*'), without blanks")
    key_id = "k" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 256 bits; the urlsafe alphabet has no '.', the separator
    stored = StoredKey(hash_secret(secret), units, datetime.now(UTC).isoformat(timespec="seconds"), note)
    return key_id, f"{key_id}.{secret}", stored


class KeyStore:
    def __init__(self, keys: Mapping[str, StoredKey] | None = None) -> None:
        self.keys: dict[str, StoredKey] = dict(keys or {})

    def authenticate(self, token: str) -> ApiKey | None:
        key_id, dot, secret = token.partition(".")
        stored = self.keys.get(key_id)
        # The key_id is a public name; only the secret is compared, in constant time.
        matches = hmac.compare_digest(hash_secret(secret), stored.sha256 if stored else _NO_HASH)
        if stored is None or not dot or not matches:
            return None
        return ApiKey(key_id, frozenset(stored.units))

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, dict):
            raise ValueError(f"{path}: expected an object with a 'keys' object")
        return cls({key_id: _stored_key(path, key_id, entry) for key_id, entry in keys.items()})

    def save(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file), readable by the owner only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"keys": {k: asdict(v) for k, v in sorted(self.keys.items())}}, indent=2)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body + "\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _stored_key(path: Path, key_id: str, entry: object) -> StoredKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
            or not isinstance(entry.get("units"), list) or not entry["units"]:
        raise ValueError(f"{path}: key {key_id!r} needs 'sha256' and a non-empty 'units' list")
    return StoredKey(entry["sha256"], tuple(map(str, entry["units"])),
                     str(entry.get("created_at", "")), str(entry.get("note", "")))


class KeyFile:
    """The keys file, re-read when it changes; a broken new version leaves the last good one in force."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp = self._stat()
        self._store = KeyStore.load(self.path)

    def _stat(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> KeyStore:
        try:
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                self._store = KeyStore.load(self.path)
                log.info("reloaded %d API keys from %s", len(self._store.keys), self.path)
        except (OSError, ValueError) as exc:
            log.error("keys file %s unreadable, keeping the previous keys: %s", self.path, exc)
        return self._store


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ingest.keys", description="Manage writer keys.")
    parser.add_argument("--file", type=Path, default=None, help="keys file (default: INGEST_KEYS_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="issue a key; it is printed once and only its hash is stored")
    new.add_argument("--units", required=True, help="comma-separated unit codes, or * for all")
    new.add_argument("--note", dest="note", default="", help="who the key is for")
    new.add_argument("--file", type=Path, default=argparse.SUPPRESS)
    listing = commands.add_parser("list", help="key ids and their units (never secrets)")
    listing.add_argument("--file", type=Path, default=argparse.SUPPRESS)
    revoke = commands.add_parser("revoke", help="remove a key")
    revoke.add_argument("key_id")
    revoke.add_argument("--file", type=Path, default=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    path: Path = args.file or IngestSettings().keys_file
    store = KeyStore.load(path) if path.exists() else KeyStore()
    if args.command == "new":
        units = [u.strip() for u in args.units.split(",")]
        key_id, token, stored = new_key(units, args.note)
        store.keys[key_id] = stored
        store.save(path)
        sys.stderr.write(f"key {key_id} for units {','.join(units)} stored in {path}; "
                         "the key below is shown only now\n")
        sys.stdout.write(token + "\n")
    elif args.command == "list":
        for key_id, stored in sorted(store.keys.items()):
            sys.stdout.write(f"{key_id}\t{','.join(stored.units)}\t{stored.created_at}\t{stored.note}\n")
    elif args.command == "revoke":
        if store.keys.pop(args.key_id, None) is None:
            sys.stderr.write(f"no key {args.key_id} in {path}\n")
            return 1
        store.save(path)
        sys.stderr.write(f"revoked {args.key_id}\n")
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
