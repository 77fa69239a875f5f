"""Approximate-time synchronisation of N message streams (no message_filters, no rclpy).

Meaning of the settings, as in message_filters' ApproximateTimeSynchronizer:
``slop`` is the largest spread of stamps inside one set, ``queue_size`` the most messages held per
stream. On top of that, ``min_views`` lets a set miss cameras (a dropped frame, a dead camera).

When a set is emitted (the rule the tests pin down):
- a *window* is a run of queued messages whose stamps lie within ``slop`` of the earliest; it holds
  at most one message per stream (the earliest of that stream inside it);
- a window is *settled* once it cannot grow: every stream is in it, or every missing stream has
  already delivered a later message (it dropped this frame), or a queue is about to overflow and
  the window starts at or before that queue's oldest message (a dead camera bounds the latency to
  ``queue_size`` frames). With ``wait_for_stragglers=False`` every window counts as settled, so a
  set goes out the moment ``min_views`` streams agree;
- the earliest settled window with at least ``min_views`` streams, or a tighter or larger settled
  window overlapping it (most streams first, then the smallest spread), is emitted;
- afterwards every queued message stamped at or before the newest stamp of the emitted set is
  dropped (``stale``); a later arrival stamped at or before it is dropped as a ``straggler`` (within
  ``slop`` of one of the last ``queue_size`` emitted sets: its set went out without it) or ``stale``
  (otherwise). Repeated stamps on a stream count as ``duplicates``.

Cost per message: windows are visited in time order and the search normally stops at the first
one (``O(streams x log queue)``); the worst case is ``O(streams x queued messages)``. It never
depends on how many combinations of stamps there are. Stamps are integer nanoseconds.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SyncConfig", "SyncedSet", "SyncStats", "StampSynchronizer"]


@dataclass(frozen=True)
class SyncConfig:
    """Synchroniser settings.

    Attributes:
        num_streams: number of input streams (cameras).
        slop_s: largest stamp spread inside a set, seconds. Keep it under half the frame period.
        queue_size: messages held per stream.
        min_views: fewest streams in a set; 0 means all of them.
        wait_for_stragglers: wait until a window is settled (see module docstring) before emitting.
    """

    num_streams: int
    slop_s: float = 0.01
    queue_size: int = 10
    min_views: int = 0
    wait_for_stragglers: bool = True

    def __post_init__(self) -> None:
        if self.num_streams < 1:
            raise ValueError(f"num_streams must be >= 1, got {self.num_streams}")
        if not self.slop_s >= 0:
            raise ValueError(f"slop_s must be >= 0, got {self.slop_s}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")
        if not 0 <= self.min_views <= self.num_streams:
            raise ValueError(f"min_views must be in 0..{self.num_streams}, got {self.min_views}")

    @property
    def required_views(self) -> int:
        return self.min_views or self.num_streams


@dataclass(frozen=True)
class SyncedSet:
    """One synchronised set.

    Attributes:
        stamp_ns: the set's time, the mean stamp of its messages (ns).
        payloads: stream index -> message, in stream order.
        stamps_ns: stream index -> that message's stamp (ns).
    """

    stamp_ns: int
    payloads: dict[int, Any]
    stamps_ns: dict[int, int]

    @property
    def streams(self) -> tuple[int, ...]:
        return tuple(self.payloads)


@dataclass
class SyncStats:
    """Counters: messages received, sets emitted, and messages dropped by reason."""

    received: int = 0
    sets: int = 0
    duplicates: int = 0
    stragglers: int = 0
    stale: int = 0
    overflow: int = 0

    @property
    def dropped(self) -> int:
        return self.duplicates + self.stragglers + self.stale + self.overflow


@dataclass
class _Queue:
    stamps: list[int] = field(default_factory=list)
    payloads: list[Any] = field(default_factory=list)


class StampSynchronizer:
    """Groups messages of ``config.num_streams`` streams into sets by stamp (see module docstring)."""

    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self.stats = SyncStats()
        self._slop_ns = int(round(config.slop_s * 1e9))
        self._queues = [_Queue() for _ in range(config.num_streams)]
        # (min, max) stamps of recently emitted sets, newest last, to tell stragglers from stale
        self._emitted: deque[tuple[int, int]] = deque(maxlen=max(config.queue_size, 1))

    def pending(self) -> int:
        """Messages waiting in the queues."""
        return sum(len(q.stamps) for q in self._queues)

    def add(self, stream: int, stamp_ns: int, payload: Any) -> list[SyncedSet]:
        """Queue one message; returns the sets it settled (usually zero or one), oldest first."""
        if not 0 <= stream < self.config.num_streams:
            raise ValueError(f"stream {stream} out of range 0..{self.config.num_streams - 1}")
        stamp_ns = int(stamp_ns)
        self.stats.received += 1
        if self._emitted and stamp_ns <= self._emitted[-1][1]:
            slop = self._slop_ns
            if any(lo - slop <= stamp_ns <= hi + slop for lo, hi in self._emitted):
                self.stats.stragglers += 1
            else:
                self.stats.stale += 1
            return []
        q = self._queues[stream]
        pos = bisect.bisect_left(q.stamps, stamp_ns)
        if pos < len(q.stamps) and q.stamps[pos] == stamp_ns:
            self.stats.duplicates += 1
            return []
        q.stamps.insert(pos, stamp_ns)
        q.payloads.insert(pos, payload)
        out = self._emit_settled(None, stamp_ns)
        while len(q.stamps) > self.config.queue_size:
            # Before the oldest message is lost, settle whatever set it could still belong to.
            out += self._emit_settled(q.stamps[0], stamp_ns)
            if len(q.stamps) > self.config.queue_size:
                del q.stamps[0], q.payloads[0]
                self.stats.overflow += 1
        return out

    def _emit_settled(self, force_until: int | None, newest: int) -> list[SyncedSet]:
        out = []
        while (found := self._search(force_until, newest)) is not None:
            kind, value = found
            if kind == "set":
                out.append(self._pop_set(value))
            else:  # the earliest messages can never join a set: drop them
                for q in self._queues:
                    if q.stamps and q.stamps[0] == value:
                        del q.stamps[0], q.payloads[0]
                        self.stats.stale += 1
        return out

    def _window(self, start: int) -> tuple[dict[int, int], int]:
        """Stream -> queue position of its first message in ``[start, start + slop]``; the spread."""
        end = start + self._slop_ns
        members, newest = {}, start
        for k, q in enumerate(self._queues):
            i = bisect.bisect_left(q.stamps, start)
            if i < len(q.stamps) and q.stamps[i] <= end:
                members[k] = i
                newest = max(newest, q.stamps[i])
        return members, newest - start

    def _settled(self, start: int, members: dict[int, int], force_until: int | None) -> bool:
        if not self.config.wait_for_stragglers or (force_until is not None and start <= force_until):
            return True
        end = start + self._slop_ns
        return all(k in members or (q.stamps and q.stamps[-1] > end) for k, q in enumerate(self._queues))

    def _search(self, force_until: int | None, newest: int) -> tuple[str, Any] | None:
        """``("set", members)`` to emit, ``("drop", stamp)`` for dead earliest messages, or None.

        While waiting for stragglers only the earliest window can be the next set: if it is not
        settled, no later one is (the stream it waits for has nothing later either). So the
        search looks at one window, ``O(streams x log queue)``, plus the few windows overlapping it
        when it is emitted, to pick the tightest. Without waiting, only the windows holding the
        ``newest`` arrival are new candidates.
        """
        need = self.config.required_views
        heads = [q.stamps[0] for q in self._queues if q.stamps]
        if len(heads) < need:
            return None
        if self.config.wait_for_stragglers:
            first = min(heads)
            members, spread = self._window(first)
            if not self._settled(first, members, force_until):
                return None
            if len(members) < need:
                return "drop", first  # settled and too small: its earliest messages are dead
            end = first + self._slop_ns
            starts = sorted({t for q in self._queues
                             for t in q.stamps[bisect.bisect_right(q.stamps, first):bisect.bisect_right(q.stamps, end)]})
            chosen = (members, spread)
        else:  # only windows holding the newest arrival can have changed since the last search
            lo, hi = newest - self._slop_ns, newest
            starts = sorted({t for q in self._queues
                             for t in q.stamps[bisect.bisect_left(q.stamps, lo):bisect.bisect_right(q.stamps, hi)]})
            chosen = None
        for start in starts:
            if chosen is not None and start > first + self._slop_ns:
                break
            members, spread = self._window(start)
            if len(members) < need or not self._settled(start, members, force_until):
                continue
            if chosen is None:
                chosen, first = (members, spread), start
            elif (len(members), -spread) > (len(chosen[0]), -chosen[1]):
                chosen = (members, spread)
        return None if chosen is None else ("set", chosen[0])

    def _pop_set(self, chosen: dict[int, int]) -> SyncedSet:
        payloads, stamps = {}, {}
        for k, pos in chosen.items():
            stamps[k] = self._queues[k].stamps[pos]
            payloads[k] = self._queues[k].payloads[pos]
        newest = max(stamps.values())
        for k, q in enumerate(self._queues):
            cut = bisect.bisect_right(q.stamps, newest)
            self.stats.stale += cut - (1 if k in chosen else 0)
            del q.stamps[:cut], q.payloads[:cut]
        self._emitted.append((min(stamps.values()), newest))
        self.stats.sets += 1
        mean = sum(stamps.values()) / len(stamps)
        return SyncedSet(int(round(mean)), payloads, stamps)
