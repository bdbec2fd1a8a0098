"""The simulator: a province's filing-status events, to a file, to the ingest service, or to Kafka.

`units.province_units()` gives the unit tree; `feed.generate(FeedConfig(...))` the events in
delivery order; `python -m services.simulator --help` the command line; `replay.produce_file`
puts an NDJSON file straight onto a Kafka topic.
"""
