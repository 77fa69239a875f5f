"""Newest-frame-per-camera hand-off from subscription callbacks to the inference worker.

Each camera has one slot. A callback puts its message there (replacing, and counting, a frame
the worker had not taken yet), so a slow network never builds a queue: the worker always sees
the newest frame of every camera. The worker takes every filled slot at once, so frames that
wait at the same moment go through the network as one batch; it may wait a short window for
the other live cameras, so that synchronised cameras share a forward pass.

No ROS here; the lock and condition make ``put`` (executor thread) and ``take_batch`` (worker
thread) safe to call concurrently.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Frame", "FrameSlots"]


@dataclass(frozen=True)
class Frame:
    """One received message of camera ``camera`` and the monotonic time it arrived."""

    camera: int
    message: Any
    arrived: float


class FrameSlots:
    """One slot per camera holding its newest untaken frame.

    Args:
        num_cameras: number of slots.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, num_cameras: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: list[Frame | None] = [None] * num_cameras
        self._last_arrival: list[float | None] = [None] * num_cameras
        self._started = clock()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, camera: int, message: Any) -> bool:
        """Store ``message`` as camera ``camera``'s newest frame.

        Returns:
            True when an untaken older frame of that camera was replaced (a dropped frame).
        """
        now = self._clock()
        with self._cond:
            replaced = self._slots[camera] is not None
            self._slots[camera] = Frame(camera, message, now)
            self._last_arrival[camera] = now
            self._cond.notify_all()
        return replaced

    def live_cameras(self, timeout: float) -> list[int]:
        """Cameras that sent a frame in the last ``timeout`` seconds; a camera that never sent
        counts as live for ``timeout`` seconds after the slots were made (start-up grace)."""
        now = self._clock()
        with self._cond:
            return [i for i, t in enumerate(self._last_arrival)
                    if now - (self._started if t is None else t) < timeout]

    def take_batch(self, *, window: float, live_timeout: float,
                   wait: float = 0.1) -> list[Frame]:
        """The newest frame of every camera that has one, emptying those slots.

        Blocks up to ``wait`` seconds for a first frame (returns [] if none came or the slots
        were closed). After the first frame it waits up to ``window`` seconds more for every
        other live camera (see :meth:`live_cameras`) to have a frame too.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or any(self._slots), wait):
                return []
            if self._closed:
                return []
            if window > 0:
                now = self._clock()
                live = [i for i, t in enumerate(self._last_arrival)
                        if now - (self._started if t is None else t) < live_timeout]
                self._cond.wait_for(
                    lambda: self._closed or all(self._slots[i] is not None for i in live),
                    window)
            frames = [f for f in self._slots if f is not None]
            self._slots = [None] * len(self._slots)
            return frames

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake and stop every waiting ``take_batch``; frames left in the slots are returned
        by :meth:`drain`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drain(self) -> list[Frame]:
        """Empty every slot and return what was there (frames never processed)."""
        with self._cond:
            frames = [f for f in self._slots if f is not None]
            self._slots = [None] * len(self._slots)
            return frames
