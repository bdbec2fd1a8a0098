"""What crosses services, as one contract: each service imports this package, never another service.

- The event contract: the schema files in `schemas/` and what is built from them
  (`event_validation.py`, with `raw_event_check.py` for raw bytes) and the bounds on an event's
  instants that a schema cannot state (`event_bounds.py`).
- The figures records on `unit-figures` and `unit-days`: their counters, periods, snapshots and
  rates (`figures.py`), and Decision 766's indicators and scores computed from those counters for a
  unit or a subtree (`portal_scores.py`).
- The unit catalogue: a province's real units, which the simulator feeds and the API's registry is
  seeded with (`units.py`).
"""
