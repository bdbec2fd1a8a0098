"""Where the repository's files are, whichever folder a test sits in."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"
SCHEMA = SCHEMA_DIR / "filing-event.v1.json"
