"""`python -m deploy.images.build` (`make images`): the compose stack's images from what this machine
reaches, for where no image registry can be (deploy/compose.local.yml swaps them in).

1. `onestop-debian:bookworm`: Debian bookworm by `debootstrap --variant=minbase` from the mirror the
   host's apt uses, turned into an image by `docker import`; made only when absent.
2. `onestop-python:3.11-bookworm`: Debian's Python 3.11 in a virtualenv on it (deploy/images/python/).
3. `onestop-live:<ONESTOP_VERSION>`: the product, from the repository's Dockerfile with
   BASE_IMAGE=onestop-python:3.11-bookworm; its packages from requirements.lock, over HTTPS that
   trusts the host's locally added CA certificates (copied into deploy/images/ca-certificates/).
4. `onestop-kafka:<kafka.version>`: the broker jars `make run` uses (deploy/local/pom.xml, from Maven
   Central; `make kafka-jars` fetches them) on Debian's openjdk-17-jre-headless (deploy/images/kafka/).
5. `onestop-prometheus:bookworm`: Debian's prometheus package (deploy/images/prometheus/).

Docker's layer cache makes a second run quick. Needs a running Docker daemon, and debootstrap (Debian's
package; installed when missing).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from deploy.images.docker_host import ROOT, apt_install

HERE = Path(__file__).resolve().parent
DEBIAN_IMAGE = "onestop-debian:bookworm"
PYTHON_IMAGE = "onestop-python:3.11-bookworm"
PROMETHEUS_IMAGE = "onestop-prometheus:bookworm"
KAFKA_LIBS = ROOT / "deploy" / "local" / ".cache" / "kafka-libs"
POM = ROOT / "deploy" / "local" / "pom.xml"
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
CA_CONTEXT = HERE / "ca-certificates"


def kafka_version() -> str:
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    assert found is not None, f"no kafka.version in {POM}"
    return found.group(1)


def kafka_image() -> str:
    return f"onestop-kafka:{kafka_version()}"


def product_image() -> str:
    return f"onestop-live:{os.environ.get('ONESTOP_VERSION', 'latest')}"


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True,
                          check=False).returncode == 0


def host_apt_sources(release: str = "bookworm", apt: Path = Path("/etc/apt")) -> list[tuple[str, str]]:
    """(URI, suite) of the host's apt sources for `release`, one-line and deb822 files alike."""
    found: list[tuple[str, str]] = []
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[2].startswith(release):
                    found.append((parts[1], parts[2]))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(line.split(":", 1) for line in stanza.splitlines()
                          if ":" in line and not line.startswith(("#", " ")))
            fields = {k.strip(): v.strip() for k, v in fields.items()}
            if fields.get("Enabled", "yes") == "no" or "deb" not in fields.get("Types", "").split():
                continue
            for uri in fields.get("URIs", "").split():
                found.extend((uri, suite) for suite in fields.get("Suites", "").split()
                             if suite.startswith(release))
    return found


def debian_base(release: str = "bookworm") -> None:
    """debootstrap a minimal Debian from the host's mirror and import it as DEBIAN_IMAGE."""
    if shutil.which("debootstrap") is None:
        apt_install("debootstrap")
    sources = host_apt_sources(release)
    mirrors = [uri for uri, suite in sources if suite == release]
    if not mirrors:
        raise RuntimeError(f"no apt source for {release} in /etc/apt to debootstrap from")
    with tempfile.TemporaryDirectory(prefix="onestop-debian-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", release, str(rootfs), mirrors[0]], check=True,
                       stdout=subprocess.DEVNULL)
        # The image's apt reads what the host's does (its release, updates and security suites).
        (rootfs / "etc/apt/sources.list").write_text(
            "".join(f"deb {uri} {suite} main\n" for uri, suite in dict.fromkeys(sources)))
        # As in Debian's own images: no service is started by a package installed in a build.
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)
        for lists in (rootfs / "var/lib/apt/lists").glob("*_*"):
            lists.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", "CMD [\"bash\"]", "-", DEBIAN_IMAGE],
                       stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrapped tree failed")


def docker_build(tag: str, context: Path, dockerfile: Path | None = None, **args: str) -> None:
    argv = ["docker", "build", "-q", "-t", tag]
    if dockerfile is not None:
        argv += ["-f", str(dockerfile)]
    for name, value in args.items():
        argv += ["--build-arg", f"{name}={value}"]
    # The daemon's own BuildKit is old (0.8 in Debian's docker.io 20.10) and there is no buildx: the
    # classic builder, which every Dockerfile here is written for.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run([*argv, str(context)], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"docker build {tag} failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")


def stage_host_ca_certificates() -> list[str]:
    """The host's locally added CA certificates into the product's build context (git ignores them)."""
    for old in CA_CONTEXT.glob("*.crt"):
        old.unlink()
    copied = []
    for cert in sorted(HOST_CA_DIR.rglob("*.crt")) if HOST_CA_DIR.is_dir() else []:
        target = CA_CONTEXT / cert.name
        shutil.copyfile(cert, target)
        copied.append(target.name)
    return copied


def kafka_context(into: Path) -> Path:
    if not KAFKA_LIBS.is_dir() or not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        subprocess.run(["make", "-C", str(ROOT), "kafka-jars"], check=True)
    shutil.copytree(HERE / "kafka", into, dirs_exist_ok=True)
    shutil.copytree(KAFKA_LIBS, into / "libs")
    shutil.copyfile(ROOT / "deploy" / "local" / "log4j2.properties", into / "log4j2.properties")
    return into


def steps() -> Iterator[tuple[str, Callable[[], None]]]:
    """(image, callable that builds it), in build order."""
    yield DEBIAN_IMAGE, lambda: None if image_exists(DEBIAN_IMAGE) else debian_base()
    yield PYTHON_IMAGE, lambda: docker_build(PYTHON_IMAGE, HERE / "python", DEBIAN_IMAGE=DEBIAN_IMAGE)

    def product() -> None:
        stage_host_ca_certificates()
        docker_build(product_image(), ROOT, ROOT / "Dockerfile", BASE_IMAGE=PYTHON_IMAGE)

    yield product_image(), product

    def kafka() -> None:
        with tempfile.TemporaryDirectory(prefix="onestop-kafka-") as tmp:
            docker_build(kafka_image(), kafka_context(Path(tmp) / "context"), DEBIAN_IMAGE=DEBIAN_IMAGE)

    yield kafka_image(), kafka
    yield PROMETHEUS_IMAGE, lambda: docker_build(PROMETHEUS_IMAGE, HERE / "prometheus",
                                                 DEBIAN_IMAGE=DEBIAN_IMAGE)


def build_all(only: set[str] | None = None) -> dict[str, float]:
    """Build every image (or those in `only`, with what they stand on); seconds each took."""
    took: dict[str, float] = {}
    for image, build in steps():
        if only and image not in only and image not in (DEBIAN_IMAGE, PYTHON_IMAGE):
            continue
        began = time.monotonic()
        build()
        took[image] = time.monotonic() - began
        print(f"image {image}: {took[image]:.0f} s", flush=True)  # noqa: T201
    return took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the compose stack's images locally.")
    parser.add_argument("images", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    build_all(set(args.images) or None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
