"""The Faust application, and nothing else: topics, tables and agents live beside it."""

from __future__ import annotations

import faust

from services.aggregator.behind_mode import PUBLISH_BATCH_LIVE
from services.aggregator.kafka_transport import Transport
from services.aggregator.settings import AggregatorSettings


def make_app(settings: AggregatorSettings, partitions: int) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=settings.kafka.faust_broker(),
        broker_credentials=settings.kafka.faust_credentials(),
        store=settings.store,
        datadir=str(settings.data_dir),
        # Tables' changelogs are co-partitioned with the packed topic, itself with filing-events.
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        # The web server is for this worker's operators (/metrics, /state): it listens on loopback
        # unless told otherwise, and Faust's own pages are off. They have no authentication, and
        # /table and /router serve raw table records (event ids, offsets) to whoever asks.
        web_enabled=True,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        # A packed record holds thousands of events.
        producer_max_request_size=8 * 1024 * 1024,
        consumer_max_fetch_size=8 * 1024 * 1024,
        producer_acks=-1,
        # What this producer sends is the published records: a unit-figures record is about 36 KB
        # of JSON, four a second for a busy unit. lz4 makes one eight times smaller in about 20 µs;
        # measured at 2,000 events/s (bench/freshness_bench.py), the worker's socket writes had
        # taken a tenth of its time, and the broker's CPU fell by a ninth. Live only: behind a
        # backlog neither this nor the batch size below (behind_mode.py).
        producer_compression_type="lz4",
        # Live, a publishing round's records of a partition share a batch (behind_mode.py).
        producer_max_batch_size=PUBLISH_BATCH_LIVE,
        # Offsets are committed by time, not per record: waiting for a commit after each packed
        # record capped a worker at ~100 packs/s. Replays after a crash cost nothing in
        # exactness (the engine recognises them by source offset), only a little work.
        broker_commit_interval=1.0,
        stream_buffer_maxsize=64,
        table_standby_replicas=0,
        # A dead worker's partitions move after this many seconds without a heartbeat
        # (Faust's default is 60 s of figures frozen for the units it owned).
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
    )
    # Before anything asks for it: Faust's own transport would make its consumer wait 1.5 s.
    app.transport = Transport(app.conf.broker_consumer, app)
    return app
