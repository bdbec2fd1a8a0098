"""`python -m deploy.healthcheck URL`: exit 0 when URL answers 200, else 1; the containers' health check.

The service image has Python but no curl, and a health check should not need more installed.
"""

from __future__ import annotations

import sys
import urllib.request


def healthy(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return bool(answer.status == 200)
    except OSError:  # refused, timed out, or an HTTP error status (urllib raises HTTPError)
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m deploy.healthcheck URL\n")
        return 2
    return 0 if healthy(argv[1]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
