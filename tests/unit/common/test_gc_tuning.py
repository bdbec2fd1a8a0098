"""The collector tuning the aggregator's processes apply at start-up."""

from __future__ import annotations

import gc
import weakref

from services.common.gc_tuning import YOUNG_GENERATION, FrozenState, tune_gc


def test_the_young_generation_grows_and_start_up_objects_are_frozen() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (YOUNG_GENERATION, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settled_state_leaves_the_young_generation_and_frozen_cycles_go_at_the_full_collection() -> None:
    now = [0.0]
    frozen = FrozenState(every_s=600.0, clock=lambda: now[0])
    try:
        state = [(i, str(i)) for i in range(1000)]  # what a batch leaves alive
        garbage = weakref.ref(Cycle())  # cyclic garbage made meanwhile, by a library say
        frozen.settle()
        assert gc.get_count()[0] < 10  # what was young is frozen: no collection walks it
        assert gc.get_freeze_count() >= len(state)
        gc.collect()
        assert garbage() is not None  # frozen cycles are not collected ...
        now[0] = 599.0
        frozen.settle()
        assert garbage() is not None
        now[0] = 600.0
        frozen.settle()
        assert garbage() is None  # ... until the full collection, every `every_s`
        assert len(state) == 1000
    finally:
        gc.unfreeze()
