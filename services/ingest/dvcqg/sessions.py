"""The sync's login: a writer key behind the username and password, an expiring `session` in return.

A session is `<key_id>.<expires>.<mac>`, where the mac is an HMAC over the key id, the expiry and
the key's stored hash, keyed by a server secret. Nothing is stored: any replica that shares the
secret checks any session, a session ends when it expires, and it dies at once with its key
(revoked or issued anew, the stored hash is gone or different). The password itself is checked as
every writer key is (`keys.py`: only its sha256 is kept).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

from services.common.clock import Clock
from services.ingest.keys import ApiKey, KeyStore

MAC_BYTES = 24


class Sessions:
    def __init__(self, secret: bytes, ttl_s: int, clock: Clock) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s
        self._clock = clock

    def login(self, store: KeyStore, username: str, password: str) -> tuple[ApiKey, str] | None:
        """The key and a new session, if the username is a key id and the password its secret (or the
        whole key)."""
        token = password if password.startswith(username + ".") else f"{username}.{password}"
        key = store.authenticate(token)
        if key is None:
            return None
        expires = math.floor(self._clock()) + self.ttl_s
        return key, f"{key.key_id}.{expires}.{self._mac(key.key_id, expires, store.keys[key.key_id].sha256)}"

    def check(self, store: KeyStore, session: str) -> ApiKey | None:
        key_id, _, rest = session.partition(".")
        expires_text, _, mac = rest.partition(".")
        stored = store.keys.get(key_id)
        if stored is None or not expires_text.isdigit() or len(expires_text) > 12:
            return None
        expires = int(expires_text)
        if not hmac.compare_digest(mac, self._mac(key_id, expires, stored.sha256)):
            return None
        if self._clock() >= expires:
            return None
        return ApiKey(key_id, frozenset(stored.units))

    def _mac(self, key_id: str, expires: int, stored_sha256: str) -> str:
        message = f"{key_id}\x1f{expires}\x1f{stored_sha256}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
