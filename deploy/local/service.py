"""A service as its own process: started with its environment, awaited on its ready URL, stopped
(SIGTERM, then SIGKILL), its output kept in a log file.

`make run` (deploy/local/run.py) starts its services with it; so do the tests and the benchmarks
(tests/support), so that what they run is what `make run` runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx


@dataclass(eq=False)
class Service:
    """`argv` in its own session, its output in `<log_dir>/<name>.log`.

    `env` is laid over the environment given to `start`. Ready once `ready_url` answers 200 (at
    once without one). With `group`, signals reach the process group (the service and the children
    it starts), else the service alone, whose children must then notice by themselves.
    """

    name: str
    argv: list[str]
    log_dir: Path
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    group: bool = True
    grace_s: float = 15.0  # from SIGTERM to SIGKILL
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, base_env: Mapping[str, str] | None = None) -> Self:
        """Start the process (`base_env`: this process's environment unless given)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**(os.environ if base_env is None else base_env), **self.env}
        with self.log_path.open("ab") as out:
            # Its own session: Ctrl-C in a terminal reaches only the caller, which stops it in order.
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        """Raise, with the log's tail, if the process was started and has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def wait_ready(self, deadline: float) -> None:
        """Until `ready_url` answers 200; RuntimeError if the process exits or the (monotonic) `deadline`
        passes."""
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready_url is None:
                return
            try:
                if httpx.get(self.ready_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in time:\n{self.log_tail()}")

    def _signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        if self.group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL after `grace_s`."""
        if not self.alive():
            return
        assert self.proc is not None
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(self.grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if not self.alive():
            return
        assert self.proc is not None
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
