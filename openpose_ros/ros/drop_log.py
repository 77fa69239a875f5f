"""Bad input a node survives: counted by reason, the last message kept, warnings throttled.

One ``DropLog`` per node: ``drops`` (reason -> count) and ``problems`` (reason -> last message)
are what tests and diagnostics read; a warning for the same key and source is logged at most
once per ``period_s``.
"""

from __future__ import annotations

import time
from collections import Counter

__all__ = ["DropLog"]


class DropLog:
    """Counts drops and throttles their warnings (see module docstring)."""

    def __init__(self, logger, period_s: float) -> None:
        self.drops: Counter[str] = Counter()
        self.problems: dict[str, str] = {}  # drop reason -> last message, for tests and logs
        self._logger = logger
        self._period_s = period_s
        self._warned: dict[tuple[str, str], float] = {}

    def warn(self, key: str, source: str, text: str) -> None:
        """Log ``text`` unless the same ``key`` was logged for ``source`` within the period."""
        now = time.monotonic()
        last = self._warned.get((key, source))
        if last is None or now - last >= self._period_s:
            self._warned[(key, source)] = now
            self._logger.warning(text)

    def drop(self, reason: str, text: str, *, source: str | None = None, count: int = 1) -> None:
        """Count ``count`` drops for ``reason`` and warn (throttled per reason and ``source``,
        by default the text before its first colon: the topic)."""
        self.drops[reason] += count
        self.problems[reason] = text
        self.warn(reason, text.split(":", 1)[0] if source is None else source, text)
