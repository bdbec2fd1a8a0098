"""The collector tuning the aggregator's processes apply at start-up."""

from __future__ import annotations

import gc

from services.common.gc_tuning import YOUNG_GENERATION, tune_gc


def test_the_young_generation_grows_and_start_up_objects_are_frozen() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (YOUNG_GENERATION, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
