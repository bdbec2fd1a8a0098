"""Docker on this machine: installed when missing, started when not running, stopped only if started here.

- The engine: Debian's `docker.io` (`apt-get`, as root).
- Compose v2 (`docker compose`): built from its Go module at `COMPOSE_VERSION` into Docker's CLI plugin
  folder. `go install` refuses the module (its go.mod has an exclude directive), so the module is
  downloaded with `go mod download` and `go build ./cmd` runs in a writable copy (about a minute).
- The daemon: used as it is when `docker info` answers; else `dockerd` is started with its log in
  `.run/docker/dockerd.log` and its pid in `.run/docker/dockerd.pid`. `stop()` ends that pid and only
  that one: a daemon this module did not start is never stopped. A pid file left by a run that died
  is taken over if that pid is still a `dockerd`.

`python -m deploy.images.docker_host start|stop|status` does the same by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / ".run" / "docker"
PID_FILE = RUN_DIR / "dockerd.pid"
COMPOSE_MODULE = "github.com/docker/compose/v5"
# The newest release whose go.mod this machine's Go (1.26.8) accepts; v5.7 needs Go 1.26.11.
COMPOSE_VERSION = "v5.6.0"
CLI_PLUGINS = Path("/usr/local/lib/docker/cli-plugins")


class DockerError(RuntimeError):
    pass


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def apt_install(*packages: str) -> None:
    print(f"installing Debian's {', '.join(packages)}", flush=True)  # noqa: T201
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env,
        stdout=subprocess.DEVNULL)


def compose_works() -> bool:
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return done.returncode == 0


def build_compose() -> Path:
    """Compose v2 from its Go module, as the `docker compose` CLI plugin."""
    if shutil.which("go") is None:
        raise DockerError("Compose v2 is built from its Go module here, and `go` is not installed")
    print(f"building Compose {COMPOSE_VERSION} from its Go module (about a minute)", flush=True)  # noqa: T201
    downloaded = json.loads(run(["go", "mod", "download", "-json", f"{COMPOSE_MODULE}@{COMPOSE_VERSION}"],
                                capture_output=True).stdout)
    if "Dir" not in downloaded:
        raise DockerError(f"go mod download failed: {downloaded.get('Error')}")
    CLI_PLUGINS.mkdir(parents=True, exist_ok=True)
    target = CLI_PLUGINS / "docker-compose"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "compose"
        shutil.copytree(downloaded["Dir"], source)
        for path in [source, *source.rglob("*")]:  # the module cache is read-only
            path.chmod(path.stat().st_mode | 0o200)
        version = f"-X {COMPOSE_MODULE}/internal.Version={COMPOSE_VERSION}"
        run(["go", "build", "-trimpath", "-ldflags", version, "-o", str(target), "./cmd"], cwd=source)
    return target


def ensure_installed() -> None:
    """Debian's docker.io when there is no dockerd, and Compose v2 when `docker compose` is missing."""
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        apt_install("docker.io")
    if not compose_works():
        build_compose()
        if not compose_works():
            raise DockerError("`docker compose version` fails after building Compose")


def daemon_answers() -> bool:
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                          text=True, check=False)
    return done.returncode == 0


def is_dockerd(pid: int) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return Path(argv0.decode(errors="replace")).name == "dockerd"


@dataclass
class Daemon:
    """The Docker daemon in use; `pid` is set when it was started here (and only then is it stopped)."""

    pid: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def started_here(self) -> bool:
        return self.pid is not None

    def stop(self, timeout: float = 60.0) -> None:
        if self.pid is None:
            return
        if is_dockerd(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while is_dockerd(self.pid) and time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    break
                time.sleep(0.2)
            if is_dockerd(self.pid) and (self.proc is None or self.proc.poll() is None):
                os.kill(self.pid, signal.SIGKILL)
            if self.proc is not None:
                self.proc.wait()
        PID_FILE.unlink(missing_ok=True)
        self.pid = self.proc = None


def start_daemon(timeout: float = 60.0) -> Daemon:
    """The running daemon if `docker info` answers, else a `dockerd` started here."""
    if PID_FILE.exists():
        left = int(PID_FILE.read_text().strip() or 0)
        if left and is_dockerd(left):
            return Daemon(pid=left)  # started by an earlier run that did not stop it
        PID_FILE.unlink()
    if daemon_answers():
        return Daemon()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    with (RUN_DIR / "dockerd.log").open("ab") as log:
        proc = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    PID_FILE.write_text(f"{proc.pid}\n")
    daemon = Daemon(pid=proc.pid, proc=proc)
    deadline = time.monotonic() + timeout
    while not daemon_answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            tail = (RUN_DIR / "dockerd.log").read_text(errors="replace").splitlines()[-20:]
            raise DockerError("dockerd did not answer:\n" + "\n".join(tail))
        time.sleep(0.2)
    return daemon


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    if args.action == "start":
        ensure_installed()
        daemon = start_daemon()
        print(f"dockerd started here, pid {daemon.pid}" if daemon.started_here  # noqa: T201
              else "dockerd already running (not started here: stop leaves it)")
    elif args.action == "stop":
        if not PID_FILE.exists():
            print("no dockerd started here to stop")  # noqa: T201
            return 0
        Daemon(pid=int(PID_FILE.read_text().strip())).stop()
    else:
        started = PID_FILE.read_text().strip() if PID_FILE.exists() else None
        print(f"answers: {daemon_answers()}; started here: {started or 'no'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
