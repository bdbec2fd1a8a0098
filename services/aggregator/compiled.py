"""The engine's hot modules, compiled to C by mypyc when a build of exactly these sources exists.

The modules below run once or more per event in the worker (and, for the rules, per event in the
packer). mypyc compiles them from their own type annotations, unchanged: the same code, with the
same tests, runs about 30% fewer instructions an event (docs/benchmarks.md). `make install`
builds them (`deploy/local/compile_aggregator.py`) into BUILD_DIR; this package puts that build
ahead of the sources only while its digest matches the sources, so a module edited since the build
runs as Python until the next `make`, never as stale machine code. AGGREGATOR_COMPILED=0 runs the
Python sources whatever is built.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# In the order mypyc is given them; the rules' helpers first.
MODULES = ("hcm_time", "portal_rules", "rules", "unit_state", "engine")
BUILD_DIR = PACKAGE_DIR.parents[1] / ".cache" / "compiled-aggregator"
GROUP = "aggregator_compiled"  # the name of the build's shared library (mypyc's group)
MODULES_DIR = "modules"  # under BUILD_DIR: the modules' extension files, a path of this package
LIBRARY_DIR = "lib"  # under BUILD_DIR: the group's shared library, which they import by name
DIGEST_FILE = "sources.sha256"


def sources_digest() -> str:
    """What the build must have been made from: the modules' sources and this Python's ABI tag."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in MODULES:
        digest.update(name.encode() + b"\0" + (PACKAGE_DIR / f"{name}.py").read_bytes())
    return digest.hexdigest()


def build_is_current() -> bool:
    try:
        return (BUILD_DIR / DIGEST_FILE).read_text().strip() == sources_digest()
    except OSError:
        return False


def package_path(path: list[str]) -> list[str]:
    """The package's `__path__`, with the build first when it is current and wanted."""
    if os.environ.get("AGGREGATOR_COMPILED", "1") == "0" or not build_is_current():
        return path
    library = str(BUILD_DIR / LIBRARY_DIR)
    if library not in sys.path:
        sys.path.append(library)
    return [str(BUILD_DIR / MODULES_DIR), *path]


def running_compiled() -> bool:
    """Whether the engine imported here is the compiled one (for the worker's log and /state)."""
    from services.aggregator import engine

    return not (engine.__file__ or "").endswith(".py")
