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

Cost per message: one sort of the queued stamps plus ``O(streams x queued messages)`` array work,
independent of how many combinations of stamps there are. Stamps are integer nanoseconds.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
        out = self._emit_settled(force_until=None)
        while len(q.stamps) > self.config.queue_size:
            # Before the oldest message is lost, settle whatever set it could still belong to.
            out += self._emit_settled(force_until=q.stamps[0])
            if len(q.stamps) > self.config.queue_size:
                del q.stamps[0], q.payloads[0]
                self.stats.overflow += 1
        return out

    def _emit_settled(self, force_until: int | None) -> list[SyncedSet]:
        out = []
        while (chosen := self._best_settled_window(force_until)) is not None:
            out.append(self._pop_set(chosen))
        return out

    def _best_settled_window(self, force_until: int | None) -> dict[int, int] | None:
        """stream -> queue position of the set to emit now, or None."""
        n = self.config.num_streams
        lengths = [len(q.stamps) for q in self._queues]
        m = sum(lengths)
        if m < self.config.required_views:
            return None
        stamps = np.fromiter((s for q in self._queues for s in q.stamps), np.int64, m)
        streams = np.repeat(np.arange(n), lengths)
        qpos = np.concatenate([np.arange(k) for k in lengths])
        order = np.argsort(stamps, kind="stable")
        t, s, qpos = stamps[order], streams[order], qpos[order]
        end = np.searchsorted(t, t + self._slop_ns, side="right")  # window i is [i, end[i])
        # nxt[k, i]: sorted position of stream k's first message at or after i (m when none).
        own = np.where(s[None, :] == np.arange(n)[:, None], np.arange(m)[None, :], m)
        nxt = np.minimum.accumulate(own[:, ::-1], axis=1)[:, ::-1]
        nxt = np.concatenate([nxt, np.full((n, 1), m)], axis=1)
        inside = nxt[:, :m] < end[None, :]
        count = inside.sum(axis=0)
        member_t = np.where(inside, t[np.minimum(nxt[:, :m], m - 1)], t[None, :])
        spread = member_t.max(axis=0) - t
        settled = (inside | (nxt[:, end] < m)).all(axis=0)
        if not self.config.wait_for_stragglers:
            settled[:] = True
        elif force_until is not None:
            settled |= t <= force_until
        ok = settled & (count >= self.config.required_views)
        if not ok.any():
            return None
        first = int(np.argmax(ok))
        cand = np.flatnonzero(ok & (t <= t[first] + self._slop_ns))
        best = cand[np.lexsort((spread[cand], -count[cand]))[0]]
        rows = np.flatnonzero(inside[:, best])
        return {int(k): int(qpos[nxt[k, best]]) for k in rows}

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
