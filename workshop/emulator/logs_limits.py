"""CloudWatch Logs quotas that shape client code: FilterLogEvents allows 5 requests per second per account and
Region; beyond it AWS answers ThrottlingException ("Rate exceeded"). botocore retries it, so a client that polls in a
tight loop sees the retries' delays, or the error once they are spent, as in a class on AWS.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from types import ModuleType
from typing import Any

FILTER_LOG_EVENTS_PER_SECOND = 5
_lock = threading.Lock()
_calls: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(collections.deque)


def admit(account_id: str, region: str, per_second: int = FILTER_LOG_EVENTS_PER_SECOND,
          now: float | None = None) -> bool:
    """Count one call; False when `per_second` calls were already admitted in the last second."""
    now = time.monotonic() if now is None else now
    with _lock:
        recent = _calls[(account_id, region)]
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= per_second:
            return False
        recent.append(now)
        return True


def patch(models: ModuleType) -> None:
    from moto.core.exceptions import JsonRESTError

    class ThrottlingException(JsonRESTError):
        code = 400

        def __init__(self) -> None:
            super().__init__("ThrottlingException", "Rate exceeded")

    original = models.LogsBackend.filter_log_events

    @functools.wraps(original)
    def filter_log_events(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not admit(self.account_id, self.region_name):
            raise ThrottlingException()
        return original(self, *args, **kwargs)

    models.LogsBackend.filter_log_events = filter_log_events
