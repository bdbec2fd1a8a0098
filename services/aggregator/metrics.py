"""The aggregator worker's operational metrics, on its own registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

PACKED = Counter("aggregator_records_packed", "Records read from filing-events by the packer.",
                 registry=REGISTRY)
EVENTS = Counter("aggregator_events", "Events applied, by type and outcome.",
                 ["type", "outcome"], registry=REGISTRY)
DLQ = Counter("aggregator_dlq_records", "Records sent to the dead-letter topic, by reason.",
              ["reason"], registry=REGISTRY)
PUBLISHED = Counter("aggregator_figures_published", "unit-figures records published.", registry=REGISTRY)
# Seconds between an event's occurred_at and its processing: mostly seconds live, days for backfill.
EVENT_LAG = Histogram("aggregator_event_lag_seconds", "occurred_at to processing time.",
                      buckets=(0.1, 0.5, 1, 2, 5, 15, 60, 300, 3600, 86400, 7 * 86400, 30 * 86400),
                      registry=REGISTRY)
CONSUMER_LAG = Gauge("aggregator_consumer_lag_records", "Records behind the end of filing-events.",
                     ["partition"], registry=REGISTRY)
UNITS = Gauge("aggregator_units", "Units held by this worker.", registry=REGISTRY)
APPLYING_SHARE = Gauge("aggregator_applying_share",
                       "Share of the last second the agent spent applying packs: near 1, it is behind "
                       "(a backlog), and its figures go out less often.", registry=REGISTRY)
PENDING = Gauge("aggregator_pending_filings", "Pending filings held by this worker.", registry=REGISTRY)
PUBLISH_FAILURES = Counter("aggregator_publish_failures",
                           "Times a unit's figures could not be computed for publication.", registry=REGISTRY)
UNPUBLISHABLE = Gauge("aggregator_units_unpublishable",
                      "Units whose figures could not be computed the last time they were due (the log names "
                      "them); every other unit is still published.", registry=REGISTRY)
STALLS = Counter("aggregator_stalled_partitions",
                 "Times a partition's packs waited with no delivery from the stream and were read directly.",
                 registry=REGISTRY)
