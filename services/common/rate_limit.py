"""Token buckets per caller: on average `rate` requests a second, in bursts of up to `burst`.

Pure logic with an injectable clock, so it is tested without HTTP or sleeping. The HTTP services
turn a refusal into 429 with Retry-After; each decides who a caller is: a writer key for ingest, a
client address for the API's admin endpoints.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """Holds up to `burst` tokens, refilled at `rate` a second; each request takes one."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """0.0 if a token was taken; otherwise the seconds until one will be there."""
        # max(): a clock that stepped back must not drain the bucket.
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per caller, the least recently seen forgotten beyond `max_callers`.

    Forgetting a caller hands it a full bucket when it comes back, which is at worst one extra burst;
    the bound keeps memory flat when many callers (e.g. client addresses) come and go.
    """

    def __init__(self, rate: float, burst: int, *, max_callers: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, caller: str) -> float:
        """0.0 if `caller` may go ahead now; otherwise the seconds it should wait."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = TokenBucket(self.rate, self.burst, self.burst, now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait_s: float) -> str:
    """The Retry-After header's value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))
