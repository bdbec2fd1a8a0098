"""The version of what the aggregator keeps: the packed rows (packer.py), the filing and unit records
(engine.py) and the changelogs that hold them. Raise it with any change a worker of the version before
could not read, or would read wrongly: state of another format is not read, it is rebuilt (`make run`
sets it aside and starts afresh, deploy/local/run_state.py; docs/operations.md, *Upgrades*)."""

STATE_FORMAT = 3  # 1: everything written before the format was stamped; 2: packs in JSON
