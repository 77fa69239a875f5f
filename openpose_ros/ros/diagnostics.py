"""Counters of the pose node and their ``diagnostic_msgs/DiagnosticArray`` form.

``diagnostic_updater`` is not available from PyPI, so the node keeps its own counters here and
publishes one ``DiagnosticArray`` per period: one status for the estimator (model, device,
batches, inference time) and one per camera (input and output rate, latency from the image
stamp to publishing, drops by reason, image size, last error, silence).

Counters are updated from two threads (subscription callbacks and the inference worker), so
every update and every snapshot takes the object's lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ["DROP_REASONS", "CameraStats", "EstimatorStats", "camera_status", "estimator_status",
           "diagnostic_array"]

# Why a received frame produced no result.
DROP_REASONS = (
    "superseded",  # a newer frame of the same camera arrived before the network was free
    "too_large",   # more pixels than max_image_pixels
    "bad_image",   # undecodable: unknown encoding, empty, inconsistent size/step/data
    "error",       # the network or publishing failed on this frame
    "inactive",    # left unprocessed when the node was deactivated
)
# Reasons that mean something is wrong with a stream (others are normal under load).
_FAULTS = ("too_large", "bad_image", "error")


@dataclass
class _Window:
    """Counts and latencies since the last report."""

    started: float
    received: int = 0
    published: int = 0
    latencies: list[float] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)


class CameraStats:
    """What happened to one camera's frames."""

    def __init__(self, topic: str, *, clock=time.monotonic) -> None:
        self.topic = topic
        self._clock = clock
        self._lock = threading.Lock()
        self.received = 0
        self.published = 0
        self.drops: Counter = Counter()
        self.last_error = ""
        self.last_arrival: float | None = None
        self.image_size: tuple[int, int] | None = None
        self.incompatible_qos = 0
        self.incompatible_policy = ""
        self.silent_warned = False
        self._window = _Window(clock())

    def arrived(self, superseded: bool) -> None:
        with self._lock:
            self.received += 1
            self._window.received += 1
            self.last_arrival = self._clock()
            self.silent_warned = False
            if superseded:
                self._drop("superseded")

    def dropped(self, reason: str, error: str = "", count: int = 1) -> None:
        with self._lock:
            self._drop(reason, count)
            if error:
                self.last_error = f"{reason}: {error}"

    def _drop(self, reason: str, count: int = 1) -> None:
        if reason not in DROP_REASONS:
            raise ValueError(f"unknown drop reason {reason!r}")
        self.drops[reason] += count
        self._window.drops[reason] += count

    def published_one(self, latency: float | None, image_size: tuple[int, int]) -> None:
        with self._lock:
            self.published += 1
            self._window.published += 1
            self.image_size = image_size
            if latency is not None:
                self._window.latencies.append(latency)

    def qos_incompatible(self, policy: str) -> None:
        with self._lock:
            self.incompatible_qos += 1
            self.incompatible_policy = policy

    def silence(self, since: float) -> float:
        """Seconds since the last frame (or since ``since`` when none came yet)."""
        with self._lock:
            last = self.last_arrival if self.last_arrival is not None else since
        return self._clock() - last

    def take_window(self) -> tuple[_Window, float]:
        """The counts since the last call and that window's length in seconds; starts anew."""
        with self._lock:
            window, now = self._window, self._clock()
            self._window = _Window(now)
        return window, max(now - window.started, 1e-9)


class EstimatorStats:
    """Batches through the network and their cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches = 0
        self.frames = 0
        self.last_batch_size = 0
        self.batch_sizes: list[int] = []  # every batch since configure, for tests and reports
        self._seconds: list[float] = []
        self.errors = 0
        self.last_error = ""

    def batch(self, size: int, seconds: float) -> None:
        with self._lock:
            self.batches += 1
            self.frames += size
            self.last_batch_size = size
            self.batch_sizes.append(size)
            self._seconds.append(seconds)

    def failed(self, error: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = error

    def take_seconds(self) -> list[float]:
        with self._lock:
            seconds, self._seconds = self._seconds, []
        return seconds


def _kv(**values) -> list[KeyValue]:
    return [KeyValue(key=k, value=str(v)) for k, v in values.items()]


def camera_status(node_name: str, stats: CameraStats, *, silence: float,
                  image_timeout: float) -> DiagnosticStatus:
    """One camera's status for the window since the previous call."""
    window, seconds = stats.take_window()
    lat = window.latencies
    with stats._lock:
        totals = {f"dropped_{r}": stats.drops[r] for r in DROP_REASONS}
        size = "x".join(map(str, stats.image_size)) if stats.image_size else "none yet"
        values = _kv(
            input_rate_hz=f"{window.received / seconds:.2f}",
            output_rate_hz=f"{window.published / seconds:.2f}",
            latency_ms_mean=f"{1e3 * sum(lat) / len(lat):.1f}" if lat else "n/a",
            latency_ms_max=f"{1e3 * max(lat):.1f}" if lat else "n/a",
            received=stats.received, published=stats.published, **totals,
            image_size=size, seconds_since_last_image=f"{silence:.1f}",
            incompatible_qos_events=stats.incompatible_qos, last_error=stats.last_error or "none",
        )
        policy = stats.incompatible_policy
    problems = []
    if silence > image_timeout:
        problems.append(f"no image for {silence:.1f} s")
    if policy:
        problems.append(f"a publisher has incompatible QoS ({policy})")
    faults = {r: window.drops[r] for r in _FAULTS if window.drops[r]}
    if faults:
        problems.append("dropped " + ", ".join(f"{n} {r}" for r, n in faults.items()))
    level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
    message = "; ".join(problems) if problems else (
        f"{window.published / seconds:.1f} Hz out of {window.received / seconds:.1f} Hz in")
    return DiagnosticStatus(level=level, name=f"{node_name}: camera {stats.topic}",
                            message=message, hardware_id=stats.topic, values=values)


def estimator_status(node_name: str, stats: EstimatorStats | None, *, state: str, model: str,
                     device: str, problem: str = "") -> DiagnosticStatus:
    """The estimator's status (also sent while unconfigured, so a failed start is visible)."""
    values = _kv(state=state, model=model, device=device)
    level = DiagnosticStatus.ERROR if problem else DiagnosticStatus.OK
    message = problem or state
    if stats is not None:
        seconds = stats.take_seconds()
        with stats._lock:
            values += _kv(
                batches=stats.batches, frames=stats.frames,
                last_batch_size=stats.last_batch_size,
                mean_batch_size=f"{stats.frames / stats.batches:.2f}" if stats.batches else "n/a",
                inference_ms_mean=(f"{1e3 * sum(seconds) / len(seconds):.1f}" if seconds
                                   else "n/a"),
                errors=stats.errors, last_error=stats.last_error or "none")
            if stats.errors and not problem:
                level = DiagnosticStatus.WARN
                message = f"{state}; {stats.errors} failed batches, last: {stats.last_error}"
    return DiagnosticStatus(level=level, name=f"{node_name}: pose estimation",
                            message=message, hardware_id=device, values=values)


def diagnostic_array(stamp, statuses: list[DiagnosticStatus]) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = statuses
    return msg
