"""What the tests and the benchmarks share; it imports nothing from either (bench imports it, the tests
import it, never the other way round).

- `paths`: the repository's root and the event schema.
- `suite_clock`: the suite's "now".
- `waiting`: polling until a condition holds (`wait_until`, `async_wait_until`, `eventually`).
- `broker`: a local broker started and stopped around a block, uniquely named topics.
- `ingest`: events, keys files, a stand-in Kafka writer, an app under a real uvicorn, ingest on a broker.
- `api`: unit-figures records, API settings, the API on a broker, an event-stream reader.
- `aggregator`: real aggregator workers and a reader of what they publish.
- `pipeline`: ingest, aggregator and API as deployed, and senders that post through ingest.
- `oracle`: the independent batch recomputation of every figure.
- `oracle_check`: the API's figures, rollups and scores asserted equal to the oracle's.
- `run_service`: `python -m tests.support.run_service ingest|api`, a service's entry point without Kafka.

Service processes are `deploy.local.service.Service`, the class `make run` starts its services with.
"""
