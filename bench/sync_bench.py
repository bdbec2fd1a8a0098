"""How fast the ingest service takes the national portal's sync: `python -m bench.sync_bench`.

Starts its own Kafka and the ingest service (a separate process, as deployed), maps the simulated
province's agency codes on `unit-agencies`, then posts a province's days of dossier states
(`services/simulator/dvcqg_sync.py`: states re-sent and out of order) as `DongBoHoSoMC` calls of 100
dossiers from a few concurrent clients. The bare baseline, in the same run on the same broker: the
very events those calls map to, posted to /v1/events as NDJSON, one request per call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from datetime import datetime, timedelta

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.ingest_bench import IngestProcess, post_all
from bench.stats import print_rows
from services.common.kafka_settings import KafkaSettings
from services.common.topics import ensure_topics
from services.contract.agencies import encode_agency
from services.ingest.dvcqg.mapping import map_dossier
from services.simulator.dvcqg_sync import agency_code, province_day_calls
from services.simulator.feed import Feed, FeedConfig
from tests.support.broker import scratch_broker
from tests.support.ingest import ndjson

END = datetime.fromisoformat("2026-11-23T00:00:00+07:00")


async def map_agencies(kafka: KafkaSettings, units: set[str]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all")
    await producer.start()
    try:
        for unit in units:
            await producer.send_and_wait(kafka.agencies_topic, encode_agency(unit),
                                         key=agency_code(unit).encode())
    finally:
        await producer.stop()


async def wait_for_agencies(service: IngestProcess, call: bytes, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
        for _ in range(600):
            answer = await http.post("/dvcqg/sync", content=call, headers=headers)
            if answer.status_code == 200 and answer.json()["error_code"] == "00":
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("ingest never read the agency codes")


async def run(args: argparse.Namespace, kafka: KafkaSettings,
              service: IngestProcess) -> list[tuple[str, str]]:
    feed = Feed(FeedConfig(start=END - timedelta(days=args.days), end=END, seed=args.seed,
                           filings_per_day=args.filings_per_day))
    events = [e for _, e in feed.events()]
    calls, _ = province_day_calls(events, random.Random(args.seed), per_call=args.per_call)
    units = {e["unit_code"] for e in events}
    await map_agencies(kafka, units)
    auth = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/json"}
    bodies = [orjson.dumps({"madonvi": "000.00.00.H31", "service": "DongBoHoSoMC", "isUpdating": "True",
                            "data": call}) for call in calls]
    await wait_for_agencies(service, bodies[0], auth)
    # The baseline's events are the calls' own, mapped here exactly as ingest maps them.
    by_agency = {agency_code(u): u for u in units}
    key_id = service.key.partition(".")[0]
    source = f"dvcqg:{key_id}"
    ndjson_bodies = [ndjson(e for d in call
                            for e in map_dossier(d, by_agency[d["MaDonViXuLy"]], source).events)
                     for call in calls]
    dossiers = sum(len(c) for c in calls)
    event_count = sum(body.count(b"\n") for body in ndjson_bodies)
    nd_headers = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/x-ndjson"}

    # Warm-up of both paths, then each measured once, the baseline first.
    await post_all(service, [("/v1/events", b, nd_headers) for b in ndjson_bodies[:5]], 1)
    await post_all(service, [("/dvcqg/sync", b, auth) for b in bodies[:5]], 1)
    bare_s = await post_all(service, [("/v1/events", b, nd_headers) for b in ndjson_bodies], args.clients)
    sync_s = await post_all(service, [("/dvcqg/sync", b, auth) for b in bodies], args.clients)
    return [
        (f"dossier states sent ({len(calls)} calls of up to {args.per_call})", f"{dossiers:,}"),
        ("events they map to", f"{event_count:,} ({event_count / dossiers:.2f} a dossier)"),
        (f"sync intake, DongBoHoSoMC x{args.per_call}, {args.clients} clients",
         f"{dossiers / sync_s:,.0f} dossiers/s ({event_count / sync_s:,.0f} events/s)"),
        (f"bare baseline: the same events, /v1/events NDJSON, one request a call, {args.clients} clients",
         f"{dossiers / bare_s:,.0f} dossiers/s ({event_count / bare_s:,.0f} events/s)"),
        ("sync / bare", f"{bare_s / sync_s:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--filings-per-day", type=float, default=1500)
    parser.add_argument("--per-call", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    with scratch_broker("sync-bench-") as (workdir, broker):
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap)
        asyncio.run(ensure_topics(kafka))
        service = IngestProcess(workdir, kafka)
        try:
            service.start()
            rows = asyncio.run(run(args, kafka, service))
        finally:
            service.stop()

    print(f"\nSync intake benchmark ({os.cpu_count()} CPUs; broker, service and client on this machine)")
    print_rows(rows, value_width=40)


if __name__ == "__main__":
    main()
