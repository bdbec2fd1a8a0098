"""The vendored browser libraries are the files services/api/static/vendor/README.md names, unchanged,
each with its licence beside it."""

from __future__ import annotations

import hashlib

from services.api.dashboard import STATIC_DIR

VENDORED = {"chart.umd.min.js": "3f288f4f26882c26b58931fb586a9b4f30370b5de38d69dc005b0bd05b08e113"}


def test_vendored_files_are_the_released_ones_with_their_licence() -> None:
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text()
    for name, sha256 in VENDORED.items():
        data = (vendor / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256, name
        assert sha256 in readme
    assert data.startswith(b"/*!\n * Chart.js v4.6.2")
    assert "MIT License" in (vendor / "chart.js.LICENSE.md").read_text()
