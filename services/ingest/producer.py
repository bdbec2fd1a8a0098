"""Write requests' events to Kafka in transactions, grouped, from a small pool of transactional producers.

Why transactions: a request's accepted events must become visible to `read_committed` consumers all
together or not at all, even when Kafka fails half-way. Why group commit: a transaction costs the
broker far more than its records do (AddPartitionsToTxn, EndTxn, and a commit marker written to every
partition it touched), so requests that arrive while one is in flight wait for it and then go
together in the next; each request is still all-or-nothing, since the group is. At a few requests a
second each has its own transaction; at hundreds, a transaction carries every request that came
during the one before (up to `transaction_max_bytes`). Why a pool: when the waiting requests fill
more than one transaction, further producers start theirs in parallel. A producer that fails is thrown
away and made again, with the same transactional.id, by a repair task that retries until Kafka
answers; its InitProducerId makes the coordinator abort whatever the failed producer left open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]  # (key, value)
STATES = ("idle", "busy", "repairing")
REPAIR_BACKOFF_S = (0.2, 2.0)  # first and longest pause between attempts to reach Kafka again
PROBE_TIMEOUT_S = 2.0
DISARM_ROUNDS = 40  # cancels 50 ms apart; a sender takes one or two


class KafkaUnavailable(Exception):
    """Kafka did not take the request's records in time: answer 503, the sender retries."""


class EventWriter(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def write(self, records: Sequence[Record]) -> None: ...
    async def check(self) -> bool: ...


class _NoProducer(Exception):
    pass


class _Request:
    """A request's records, waiting for the transaction that takes them, and its outcome."""

    __slots__ = ("outcome", "records", "size")

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self.size = sum(len(key) + len(value) for key, value in records)
        self.outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _Slot:
    __slots__ = ("generation", "index", "producer", "transactional_id")

    def __init__(self, index: int, transactional_id: str) -> None:
        self.index = index
        self.transactional_id = transactional_id
        self.producer: AIOKafkaProducer | None = None
        self.generation = 0


class TransactionalWriter:
    def __init__(self, settings: IngestSettings, metrics: IngestMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._topic = settings.kafka.events_topic
        self._timeout = settings.produce_timeout_s
        prefix = f"{settings.transactional_id_prefix}-{settings.instance_id}"
        self._slots = [_Slot(i, f"{prefix}-{i}") for i in range(settings.producer_pool_size)]
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        self._busy = 0  # producers out of the idle queue: in a transaction, or probing Kafka (check)
        self._group_bytes = settings.transaction_max_bytes
        self._waiting: deque[_Request] = deque()  # in arrival order
        self._waiting_bytes = 0
        self._in_flight = 0  # transactions
        self._transactions: set[asyncio.Task[None]] = set()  # the same, to wait for at stop
        self._repairs: dict[int, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._outage_logged = False
        metrics.watch_producers(self.states, STATES)

    def states(self) -> Mapping[str, int]:
        return {"idle": self._idle.qsize(), "busy": self._busy, "repairing": len(self._repairs)}

    async def start(self) -> None:
        """Create the producers; if Kafka is away, go on (answering 503) while they keep trying."""
        for slot in self._slots:
            self._repair(slot)
        deadline = time.monotonic() + self._timeout
        while self._repairs and time.monotonic() < deadline:
            await asyncio.wait(list(self._repairs.values()), timeout=deadline - time.monotonic())
        if self._repairs:
            log.warning("Kafka at %s not reachable yet; answering 503 until it is",
                        self._settings.kafka.bootstrap_servers)

    async def stop(self) -> None:
        # The transactions under way end (each within the produce timeout); what waits is refused.
        await asyncio.gather(*self._transactions, return_exceptions=True)
        self._refuse_waiting()
        for task in self._repairs.values():
            task.cancel()
        await asyncio.gather(*self._repairs.values(), return_exceptions=True)
        self._repairs.clear()
        producers = [s.producer for s in self._slots if s.producer is not None]
        for slot in self._slots:
            slot.producer = None
        await asyncio.gather(*(self._close(p, graceful=True) for p in producers), *self._closing)

    async def write(self, records: Sequence[Record]) -> None:
        """Return once Kafka has committed every record, or raise KafkaUnavailable.

        After KafkaUnavailable a read_committed reader sees all of the records or none: none, unless
        the commit reached Kafka just as the time ran out (then all), which is why a retry must be safe
        (event_id makes it so).
        """
        started = time.perf_counter()
        request: _Request | None = None
        try:
            async with asyncio.timeout(self._timeout):
                if self._idle.empty() and self._busy == 0:
                    # Every producer is being re-created, so Kafka is away: say so now, not after the timeout.
                    raise _NoProducer
                request = _Request(records)
                self._waiting.append(request)
                self._waiting_bytes += request.size
                self._dispatch()
                await request.outcome  # what the transaction that took the request raised, if anything
        except _NoProducer:
            self._metrics.kafka_failures.labels("unavailable").inc()
            raise KafkaUnavailable("no connection to Kafka") from None
        except TimeoutError:
            self._metrics.kafka_failures.labels("timeout").inc()
            log.warning("no commit within %g s on topic %s at %s", self._timeout, self._topic,
                        self._settings.kafka.bootstrap_servers)
            raise KafkaUnavailable(f"Kafka did not commit within {self._timeout:g} s") from None
        except KafkaError as exc:
            self._metrics.kafka_failures.labels("error").inc()
            log.warning("Kafka transaction failed: %r", exc)
            raise KafkaUnavailable(f"Kafka error: {type(exc).__name__}") from None
        except Exception as exc:
            # Not expected from aiokafka, but the producer is already discarded and re-created, so the
            # sender can safely retry: a 503, never a 500.
            self._metrics.kafka_failures.labels("error").inc()
            log.exception("unexpected failure writing to Kafka")
            raise KafkaUnavailable(f"Kafka error: {type(exc).__name__}") from None
        finally:
            if request is not None and request in self._waiting:  # timed out before a transaction took it
                self._waiting.remove(request)
                self._waiting_bytes -= request.size
        self._metrics.kafka_seconds.observe(time.perf_counter() - started)

    def _dispatch(self) -> None:
        """Start transactions for the waiting requests: one when none is in flight (the requests that
        come meanwhile wait for it, and go together in the next), and more, on free producers, while
        the requests waiting fill more than one transaction."""
        while self._waiting and not self._idle.empty():
            if self._in_flight and self._waiting_bytes <= self._group_bytes:
                return
            slot = self._idle.get_nowait()
            self._busy += 1
            self._in_flight += 1
            group = [self._waiting.popleft()]
            size = group[0].size
            while self._waiting and size + self._waiting[0].size <= self._group_bytes:
                size += self._waiting[0].size
                group.append(self._waiting.popleft())
            self._waiting_bytes -= size
            task = asyncio.create_task(self._commit(slot, group))
            self._transactions.add(task)
            task.add_done_callback(self._transactions.discard)

    async def _commit(self, slot: _Slot, group: list[_Request]) -> None:
        """One transaction for the group's records; each request learns its outcome."""
        self._metrics.transaction_requests.observe(len(group))
        try:
            async with asyncio.timeout(self._timeout):
                await self._transact(slot, [record for request in group for record in request.records])
        except BaseException as exc:  # a request that times out is answered by write(); this one goes on
            self._discard(slot)
            for request in group:
                if not request.outcome.done():  # cancelled: its request timed out
                    request.outcome.set_exception(exc if isinstance(exc, Exception) else _NoProducer())
            if not isinstance(exc, Exception):
                raise
        else:
            self._release(slot)
            for request in group:
                if not request.outcome.done():
                    request.outcome.set_result(None)
        finally:
            self._in_flight -= 1
            self._dispatch()

    async def check(self) -> bool:
        """Whether a producer is connected: asks the broker through an idle producer, if there is one."""
        try:
            slot = self._idle.get_nowait()
        except asyncio.QueueEmpty:
            return self._busy > 0
        self._busy += 1
        assert slot.producer is not None
        try:
            async with asyncio.timeout(min(PROBE_TIMEOUT_S, self._timeout)):
                await slot.producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            self._discard(slot)
            return False
        self._release(slot)
        return True

    def _release(self, slot: _Slot) -> None:
        self._busy -= 1
        self._idle.put_nowait(slot)
        self._dispatch()

    async def _transact(self, slot: _Slot, records: Sequence[Record]) -> None:
        producer = slot.producer
        assert producer is not None
        await producer.begin_transaction()
        futures = [await producer.send(self._topic, value, key=key) for key, value in records]
        # Gathered with their exceptions so that, should this request fail, records that aiokafka fails
        # later (e.g. expired batches) are not each logged as "exception never retrieved".
        delivered = asyncio.gather(*futures, return_exceptions=True)
        await producer.commit_transaction()
        # The commit waits for every batch and fails if one failed; this only re-checks it.
        for outcome in await delivered:
            if isinstance(outcome, BaseException):
                raise outcome

    def _discard(self, slot: _Slot) -> None:
        """Throw the slot's producer away and re-create it, and the idle ones with it."""
        self._busy -= 1
        # The idle producers most likely lost the same broker: re-creating them now turns the next
        # requests into quick 503s instead of each waiting out the timeout on a dead connection.
        doomed = [slot]
        while not self._idle.empty():
            doomed.append(self._idle.get_nowait())
        for each in doomed:
            if each.producer is not None:
                self._abandon(each.producer)
                each.producer = None
            self._repair(each)
        if self._busy == 0:
            self._refuse_waiting()

    def _refuse_waiting(self) -> None:
        """No producer left to take the waiting requests: they are refused now, not at their timeout."""
        while self._waiting:
            request = self._waiting.popleft()
            if not request.outcome.done():
                request.outcome.set_exception(_NoProducer())
        self._waiting_bytes = 0

    def _repair(self, slot: _Slot) -> None:
        if slot.index not in self._repairs:
            self._repairs[slot.index] = asyncio.create_task(self._recreate(slot),
                                                            name=f"repair {slot.transactional_id}")

    async def _recreate(self, slot: _Slot) -> None:
        pause, longest = REPAIR_BACKOFF_S
        while (producer := await self._try_start(slot.transactional_id)) is None:
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest)
        if slot.generation > 0:
            self._metrics.producer_restarts.inc()
        if self._outage_logged:
            log.info("Kafka reachable again: producer %s ready", slot.transactional_id)
            self._outage_logged = False
        slot.generation += 1
        slot.producer = producer
        del self._repairs[slot.index]
        self._idle.put_nowait(slot)
        self._dispatch()

    async def _try_start(self, transactional_id: str) -> AIOKafkaProducer | None:
        producer = self._new_producer(transactional_id)
        try:
            # start() connects and runs InitProducerId, which fences any earlier producer with this
            # transactional.id and aborts the transaction it left open.
            async with asyncio.timeout(self._timeout):
                await producer.start()
            return producer
        except (KafkaError, OSError, TimeoutError) as exc:
            if not self._outage_logged:
                log.warning("Kafka unreachable (%r); retrying every %s s at most", exc, REPAIR_BACKOFF_S[1])
                self._outage_logged = True
        except Exception:
            log.exception("unexpected failure starting a Kafka producer; retrying")
        await self._close(producer, graceful=False)
        return None

    def _new_producer(self, transactional_id: str) -> AIOKafkaProducer:
        timeout_ms = int(self._timeout * 1000)
        return AIOKafkaProducer(
            **self._settings.kafka.client_kwargs(),
            client_id=transactional_id,
            transactional_id=transactional_id,  # implies enable_idempotence=True
            acks="all",
            transaction_timeout_ms=self._settings.transaction_timeout_ms,
            request_timeout_ms=timeout_ms,
            max_batch_size=self._settings.producer_batch_bytes,
            max_request_size=max(self._settings.producer_batch_bytes, 1024 * 1024),
        )

    def _abandon(self, producer: AIOKafkaProducer) -> None:
        task = asyncio.create_task(self._close(producer, graceful=False))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, producer: AIOKafkaProducer, graceful: bool) -> None:
        if not graceful:
            await _disarm(producer)
        try:
            async with asyncio.timeout(self._timeout):
                await producer.stop()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("closing a Kafka producer failed: %r", exc)


async def _disarm(producer: AIOKafkaProducer) -> None:
    """Make a failed producer send nothing more, so that its stop() returns at once.

    aiokafka has no public "abandon", and stop() first waits for unsent batches to reach a broker that
    may be gone. So: cancel the sender (again until it is done: one cancel may only reach its clean-up,
    which then waits on a coordinator lookup), then forget the unsent batches. Failing them instead
    (`fail_all`) trips over batches queued for a retry. Nothing of the failed transaction is sent
    later; the coordinator aborts it when the slot's new producer runs InitProducerId.
    """
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    for _ in range(DISARM_ROUNDS):
        if task is None or task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if task is not None and not task.done():
        log.warning("a discarded Kafka producer's sender would not stop")
    accumulator = getattr(producer, "_message_accumulator", None)
    for name in ("_batches", "_pending_batches"):
        getattr(accumulator, name, {}).clear()
