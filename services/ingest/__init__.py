"""The ingest service: authenticated HTTP intake of filing-status events into Kafka.

`python -m services.ingest` runs it; `python -m services.ingest.keys new` issues writer keys.
"""
