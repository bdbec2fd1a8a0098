"""Writer keys: only hashes stored, secrets compared in constant time, scope per unit, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.ingest import keys as keys_module
from services.ingest.keys import ALL_UNITS, ApiKey, KeyFile, KeyStore, _cli, hash_secret, new_key
from tests.support.paths import ROOT


def test_a_new_key_is_id_dot_secret_and_only_the_hash_is_kept() -> None:
    key_id, token, stored = new_key(["26734"])
    assert token.startswith(key_id + ".")
    secret = token.split(".", 1)[1]
    assert len(secret) >= 43  # 32 random bytes, base64url
    assert stored.sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(stored)


def test_keys_are_random() -> None:
    tokens = {new_key(["*"])[1] for _ in range(50)}
    assert len(tokens) == 50


def test_saved_file_holds_hashes_never_secrets(tmp_path: Path) -> None:
    key_id, token, stored = new_key(["26734", "26737"], note="Phường Sài Gòn")
    path = tmp_path / "keys.json"
    KeyStore({key_id: stored}).save(path)
    text = path.read_text()
    assert token.split(".", 1)[1] not in text
    assert json.loads(text)["keys"][key_id]["sha256"] == stored.sha256
    assert os.stat(path).st_mode & 0o077 == 0  # readable by the owner only
    assert KeyStore.load(path).authenticate(token) == ApiKey(key_id, frozenset({"26734", "26737"}))


def test_only_the_exact_key_authenticates() -> None:
    key_id, token, stored = new_key(["26734"])
    other_id, _, other = new_key(["26737"])
    store = KeyStore({key_id: stored, other_id: other})
    secret = token.split(".", 1)[1]
    assert store.authenticate(token) == ApiKey(key_id, frozenset({"26734"}))
    assert store.authenticate(f"{key_id}.{secret[:-1]}") is None       # wrong secret
    assert store.authenticate(f"{other_id}.{secret}") is None          # right secret, other id
    assert store.authenticate(f"kunknown.{secret}") is None            # unknown id
    assert store.authenticate(secret) is None                          # no id
    assert store.authenticate(key_id) is None                          # no secret
    assert store.authenticate("") is None


def test_secrets_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    key_id, token, stored = new_key(["26734"])
    store = KeyStore({key_id: stored})
    calls: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    assert store.authenticate(token) is not None
    assert calls == [(hash_secret(token.split(".", 1)[1]), stored.sha256)]
    # An unknown key id still costs a hash and a comparison: its answer time tells nothing.
    calls.clear()
    assert store.authenticate("knobody.whatever") is None
    assert len(calls) == 1 and calls[0][0] == hash_secret("whatever")


def test_scope_is_the_listed_units_or_all() -> None:
    scoped = ApiKey("k1", frozenset({"26734", "26737"}))
    assert scoped.may_write("26734") and scoped.may_write("26737")
    assert not scoped.may_write("26740")
    assert not scoped.may_write("2673")  # no prefix matching
    assert ApiKey("k2", frozenset({ALL_UNITS})).may_write("anything")


@pytest.mark.parametrize("units", [[], [""], [" 26734"]])
def test_a_key_needs_real_units(units: list[str]) -> None:
    with pytest.raises(ValueError):
        new_key(units)


@pytest.mark.parametrize("content", ['{"keys": []}', "[]", '{"keys": {"k1": {"sha256": "ab"}}}',
                                     '{"keys": {"k1": {"sha256": "ab", "units": []}}}'])
def test_a_malformed_keys_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ValueError):
        KeyStore.load(path)


def test_the_keys_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first_id, first, first_stored = new_key(["26734"])
    KeyStore({first_id: first_stored}).save(path)
    keyfile = KeyFile(path)
    assert keyfile.current().authenticate(first) is not None

    second_id, second, second_stored = new_key(["26737"])
    KeyStore({second_id: second_stored}).save(path)  # first revoked, second issued
    assert keyfile.current().authenticate(second) is not None
    assert keyfile.current().authenticate(first) is None

    path.write_text("{ half a fi")  # a broken edit keeps the last good keys in force
    assert keyfile.current().authenticate(second) is not None


def test_cli_new_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.json"
    assert _cli(["new", "--units", "26734, 26737", "--file", str(path), "--note", "Sở Tư pháp"]) == 0
    token = capsys.readouterr().out.strip()
    key = KeyStore.load(path).authenticate(token)
    assert key is not None and key.units == frozenset({"26734", "26737"})

    assert _cli(["list", "--file", str(path)]) == 0
    listed = capsys.readouterr().out
    assert key.key_id in listed and "26734,26737" in listed and token.split(".", 1)[1] not in listed

    assert _cli(["revoke", key.key_id, "--file", str(path)]) == 0
    assert KeyStore.load(path).authenticate(token) is None
    assert _cli(["revoke", key.key_id, "--file", str(path)]) == 1


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    done = subprocess.run([sys.executable, "-m", "services.ingest.keys", "new", "--units", "*",
                           "--file", str(path)], capture_output=True, text=True, cwd=ROOT, check=True)
    token = done.stdout.strip()
    assert "shown only now" in done.stderr
    assert KeyStore.load(path).authenticate(token) is not None
