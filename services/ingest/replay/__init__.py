"""Replaying a history file into the product, through ingest's own checks: `python -m services.ingest.replay`.

A province's past filings (NDJSON events, or the national portal's sync format, one call per line)
go straight to the events topic with the validation, normalisation, keys and event ids that
ingest's HTTP intake gives the same input (`services/ingest/intake.py`, `dvcqg/intake.py`): the
replay calls those functions, it has no rules of its own. Refused lines go to a rejects file (line
number and the field at fault, never the line itself). A position file, written only once Kafka has
acknowledged everything before it, lets an interrupted replay continue (`--resume`); what was sent
but not yet acknowledged is sent again, and the aggregator counts each event id once.
"""
