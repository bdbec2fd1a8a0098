"""make run sets aside state of another format and keeps state of its own (deploy/local/run_state.py)."""

from __future__ import annotations

import calendar
from pathlib import Path

from deploy.local.run_state import STAMP, keep_state_of_format, stamped_format

NOW = calendar.timegm((2026, 12, 7, 1, 2, 3))  # any instant: only the folder's name shows it


def make_state(run_dir: Path) -> None:
    for name in ("kafka", "aggregator"):
        (run_dir / name).mkdir(parents=True)
        (run_dir / name / "data").write_text(name)
    (run_dir / "ingest-keys.json").write_text("{}")


def test_a_new_run_dir_is_stamped_and_nothing_moves(tmp_path: Path) -> None:
    assert keep_state_of_format(tmp_path, 2, NOW) is None
    assert (tmp_path / STAMP).read_text() == "2\n"
    assert stamped_format(tmp_path) is None  # stamped, yet no state


def test_state_of_this_format_stays(tmp_path: Path) -> None:
    make_state(tmp_path)
    (tmp_path / STAMP).write_text("2\n")
    assert keep_state_of_format(tmp_path, 2, NOW) is None
    assert (tmp_path / "kafka" / "data").read_text() == "kafka"
    assert not (tmp_path / "previous").exists()


def test_unstamped_state_is_format_1_and_set_aside_whole(tmp_path: Path) -> None:
    make_state(tmp_path)
    assert stamped_format(tmp_path) == 1
    moved = keep_state_of_format(tmp_path, 2, NOW)
    assert moved is not None and moved.parent == tmp_path / "previous" and moved.name.endswith("-format-1")
    assert (moved / "kafka" / "data").read_text() == "kafka"
    assert (moved / "aggregator" / "data").read_text() == "aggregator"
    assert not (tmp_path / "kafka").exists() and not (tmp_path / "aggregator").exists()
    assert (tmp_path / "ingest-keys.json").exists()  # not state of the stream: kept
    assert stamped_format(tmp_path) is None and (tmp_path / STAMP).read_text() == "2\n"


def test_state_of_a_newer_format_is_set_aside_too(tmp_path: Path) -> None:
    (tmp_path / "aggregator").mkdir()
    (tmp_path / STAMP).write_text("3\n")
    moved = keep_state_of_format(tmp_path, 2, NOW)
    assert moved is not None and moved.name.endswith("-format-3")
    assert (moved / "aggregator").is_dir() and not (moved / "kafka").exists()


def test_a_second_set_aside_in_the_same_second_does_not_collide(tmp_path: Path) -> None:
    make_state(tmp_path)
    first = keep_state_of_format(tmp_path, 2, NOW)
    make_state(tmp_path)
    (tmp_path / STAMP).write_text("1\n")
    second = keep_state_of_format(tmp_path, 2, NOW)
    assert first is not None and second is not None and first != second
    assert (second / "kafka" / "data").exists()
