"""A single-node Apache Kafka broker in KRaft mode, run from the jars Maven fetched.

Used by `make run` (through `deploy/local/run.py`) and by the integration tests, which
start their own broker on free ports. The jars come from `deploy/local/pom.xml`
(`make kafka-jars`) into `deploy/local/.cache/kafka-libs`.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBS = HERE / ".cache" / "kafka-libs"
LOG4J = HERE / "log4j2.properties"
READY_LINE = "Kafka Server started"


# Ports handed out below the kernel's ephemeral range: a port from that range (what binding port 0
# gives) can be taken as the source port of any outgoing connection (a Kafka client's, say) before
# the service it was chosen for binds it, and that service then fails with "address in use".
LOWEST_PORT = 10_000
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on now, outside the ephemeral range, not given before."""
    below = ephemeral_ports()[0]
    for _ in range(1000):
        port = secrets.randbelow(below - LOWEST_PORT) + LOWEST_PORT
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port found between {LOWEST_PORT} and {below}")


def ephemeral_ports(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    """The kernel's range of source ports for outgoing connections (Linux's default elsewhere)."""
    try:
        low, high = path.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def sasl_properties(users: Mapping[str, str]) -> str:
    """SASL/PLAIN on the client listener, with these users and a broker user of its own."""
    broker_password = secrets.token_urlsafe(16)
    accounts = " ".join(f'user_{name}="{password}"' for name, password in {"broker": broker_password,
                                                                            **users}.items())
    return f"""
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
  required username="broker" password="{broker_password}" {accounts};
"""


def server_properties(data_dir: Path, port: int, controller_port: int,
                      sasl_users: Mapping[str, str] | None = None) -> str:
    # One node: every internal topic must have replication factor 1, and a consumer
    # group should not wait the default 3 s for more members before its first rebalance.
    listener = "SASL_PLAINTEXT" if sasl_users else "PLAINTEXT"
    return f"""
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners={listener}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners={listener}://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name={listener}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,{listener}:{listener}
log.dirs={data_dir / "log"}
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
log.cleaner.backoff.ms=1000
""" + (sasl_properties(sasl_users) if sasl_users else "")


class BrokerError(RuntimeError):
    pass


class LocalKafka:
    """Start, wait for and stop one local broker whose data lives in `data_dir`.

    Stopping and starting again on the same `data_dir` keeps the topics and the ports,
    which is what a restart test needs. With `sasl_users` (name → password) clients must log in
    with SASL/PLAIN, which is how the security settings are tested on a real broker.
    """

    def __init__(self, data_dir: Path, port: int | None = None, controller_port: int | None = None,
                 heap: str = "1g", sasl_users: Mapping[str, str] | None = None) -> None:
        self.sasl_users = dict(sasl_users or {})
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.heap = heap
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def _java(self, main: str, *args: str) -> list[str]:
        if not LIBS.is_dir() or not any(LIBS.glob("kafka_2.13-*.jar")):
            raise BrokerError(f"Kafka jars missing in {LIBS}: run `make kafka-jars`")
        return [
            "java", "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp", f"{LIBS}/*", main, *args,
        ]

    def _format(self, config: Path) -> None:
        if (self.data_dir / "log" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        done = subprocess.run(
            self._java("kafka.tools.StorageTool", "format",
                        # "=": a random id may begin with "-", which would read as an option.
                        f"--cluster-id={cluster_id}", "-c", str(config)),
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise BrokerError(f"formatting the KRaft log dir failed:\n{done.stdout}{done.stderr}")

    def start(self, timeout: float = 90.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        config.write_text(server_properties(self.data_dir, self.port, self.controller_port, self.sasl_users))
        self._format(config)
        log = self.log_path.open("ab")
        # Own session, so Ctrl-C in a terminal reaches us first and we stop the broker in order.
        self.proc = subprocess.Popen(self._java("kafka.Kafka", str(config)), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"broker exited with {self.proc.returncode}:\n{self.log_tail()}")
            if READY_LINE in self.log_path.read_text(errors="replace") and self._port_open():
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"broker not ready after {timeout}s:\n{self.log_tail()}")

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean, controlled shutdown), then SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # The next start must see a fresh ready line, not this run's.
        if self.log_path.exists():
            self.log_path.rename(self.log_path.with_suffix(f".{int(time.time() * 1000)}.log"))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.log_path.exists():
            self.log_path.rename(self.log_path.with_suffix(f".{int(time.time() * 1000)}.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a local single-node Kafka in the foreground.")
    parser.add_argument("--data-dir", type=Path, default=Path(".run/kafka"))
    parser.add_argument("--port", type=int, default=9092)
    args = parser.parse_args()
    broker = LocalKafka(args.data_dir, port=args.port)
    broker.start()
    print(f"kafka ready on {broker.bootstrap}", flush=True)  # noqa: T201
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        broker.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
