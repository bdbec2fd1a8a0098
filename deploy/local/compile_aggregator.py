"""Compile the aggregator's hot modules with mypyc: `python -m deploy.local.compile_aggregator`.

`make install` runs it; it returns at once when the build matches the sources
(services/aggregator/compiled.py says how the build is found and when it is used). It needs a C
compiler and Python's headers; mypyc and setuptools come from the lock. The build is made in a
scratch folder and moved into place whole, so an interrupted build leaves the old one or none.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from services.aggregator import compiled

ROOT = Path(__file__).resolve().parents[2]


def build(target: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [f"services/aggregator/{name}.py" for name in compiled.MODULES]
    work = target / "work"
    # mypyc writes its C files under target_dir, setuptools its objects under build_temp.
    # mypyc's notes on the sources ("treating generator comprehension as list") are no news to an
    # installer: kept back, and shown only if the build fails.
    notes = io.StringIO()
    try:
        with contextlib.redirect_stdout(notes):
            extensions = mypycify(sources, opt_level="3", group_name=compiled.GROUP,
                                  target_dir=str(work / "c"))
    except BaseException:
        sys.stdout.write(notes.getvalue())
        raise
    setup(name=compiled.GROUP, ext_modules=extensions, script_args=[
        "-q", "build_ext", "--build-lib", str(work / "lib"), "--build-temp", str(work / "obj")])
    built = work / "lib"
    (target / compiled.MODULES_DIR).mkdir()
    (target / compiled.LIBRARY_DIR).mkdir()
    for module in (built / "services" / "aggregator").iterdir():
        module.rename(target / compiled.MODULES_DIR / module.name)
    for library in built.glob(f"{compiled.GROUP}__mypyc*"):
        library.rename(target / compiled.LIBRARY_DIR / library.name)
    shutil.rmtree(work)


def main() -> int:
    if compiled.build_is_current():
        return 0
    digest = compiled.sources_digest()
    print(f"compiling the aggregator's hot modules with mypyc ({', '.join(compiled.MODULES)}); "  # noqa: T201
          "about half a minute", flush=True)
    began = time.monotonic()
    compiled.BUILD_DIR.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".compiling-", dir=compiled.BUILD_DIR.parent))
    os.chdir(ROOT)  # mypyc names the modules by their paths from here
    try:
        build(scratch)
        (scratch / compiled.DIGEST_FILE).write_text(digest + "\n")
        old = compiled.BUILD_DIR.with_name(scratch.name + "-old")
        if compiled.BUILD_DIR.exists():
            compiled.BUILD_DIR.rename(old)
        scratch.rename(compiled.BUILD_DIR)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.stderr.write("could not compile the aggregator's hot modules (the error follows); they need a C "
                         "compiler and Python's headers (Debian: apt-get install gcc python3-dev)\n")
        raise
    print(f"compiled in {time.monotonic() - began:.0f} s into {compiled.BUILD_DIR.relative_to(ROOT)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
