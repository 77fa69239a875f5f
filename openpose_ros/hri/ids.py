"""REP-155 body ids and their lifetimes.

Id scheme: ``<prefix>_<track_id>``, e.g. ``c0_12`` for track 12 of the first input. Each input
(camera stream or 3D source) has its own prefix (``c<index>`` unless configured), so ids are
unique across cameras; they are stable for as long as the upstream tracker keeps the track id,
and, since a tracker never reuses a track id, never name another person of that stream. A track
id is digits only and every prefix is distinct, so two (prefix, track) pairs never give the same
string. Ids are valid ROS topic tokens and TF frame names (``/humans/bodies/c0_12/roi``,
``body_c0_12``).

A listener creates per-id objects when an id appears in ``tracked``; the publisher side here does
the same with its per-id publishers, and :class:`IdLifetimes` decides when they go: ``linger_s``
after an id was last seen, or earlier when more than ``max_ids`` are held (least recently seen
first), so over hours of people coming and going the number held stays bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

__all__ = ["PREFIX_PATTERN", "check_prefix", "input_prefixes", "body_id", "IdLifetimes"]

#: A prefix is a ROS name token: a letter, then letters, digits and single underscores.
PREFIX_PATTERN = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$")


def check_prefix(prefix: str) -> str | None:
    """Why ``prefix`` cannot start ids (None when it can)."""
    if not PREFIX_PATTERN.match(prefix) or prefix.endswith("_"):
        return (f"id prefix {prefix!r} must start with a letter and hold only letters, digits and "
                "single underscores, not ending in one (ids become topic names and TF frames)")
    return None


def input_prefixes(count: int, configured: Sequence[str] = ()) -> list[str]:
    """One prefix per input: ``configured[i]`` where given and non-empty, else ``c<i>``.

    ``ValueError`` for an invalid prefix, more prefixes than inputs, or two inputs sharing one.
    """
    configured = list(configured)
    if any(configured[count:]):
        raise ValueError(f"{len(configured)} id prefixes for {count} inputs")
    prefixes = [(configured[i] if i < len(configured) and configured[i] else f"c{i}")
                for i in range(count)]
    for prefix in prefixes:
        problem = check_prefix(prefix)
        if problem:
            raise ValueError(problem)
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"inputs must have distinct id prefixes, got {prefixes}")
    return prefixes


def body_id(prefix: str, track_id: int) -> str:
    """The REP-155 id of track ``track_id`` (>= 0) of the input with ``prefix``."""
    if track_id < 0:
        raise ValueError(f"untracked person (track id {track_id}) has no REP-155 id")
    return f"{prefix}_{int(track_id)}"


@dataclass
class IdLifetimes:
    """Which ids are held (have per-id resources), and when each is let go.

    Times are seconds on one monotonic clock chosen by the caller (the node's steady time, not
    message stamps, so a bag loop or a stalled camera cannot keep an id alive forever).

    Attributes:
        linger_s: an id is released this long after it was last seen.
        max_ids: at most this many ids are held; beyond it the least recently seen absent ids
            are released at once (ids seen in the current frame are never released).
    """

    linger_s: float
    max_ids: int = 256
    _last_seen: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.linger_s < 0 or self.max_ids < 1:
            raise ValueError(f"linger_s must be >= 0 and max_ids >= 1, got {self.linger_s}, "
                             f"{self.max_ids}")

    @property
    def held(self) -> list[str]:
        """Ids held now, least recently seen first."""
        return list(self._last_seen)

    def __len__(self) -> int:
        return len(self._last_seen)

    def __contains__(self, ident: str) -> bool:
        return ident in self._last_seen

    def seen(self, ids: Iterable[str], now: float) -> tuple[list[str], list[str]]:
        """Mark ``ids`` as seen at ``now``; returns (new ids to create, ids to release now).

        Releases are the ids past ``linger_s`` plus, when the cap is exceeded, the oldest absent.
        """
        current = list(dict.fromkeys(ids))
        new = []
        for ident in current:
            if ident not in self._last_seen:
                new.append(ident)
            else:
                del self._last_seen[ident]  # re-insert: the dict stays ordered by last sight
            self._last_seen[ident] = now
        released = self.expire(now)
        present = set(current)
        excess = len(self._last_seen) - self.max_ids
        if excess > 0:
            for ident in [i for i in self._last_seen if i not in present][:excess]:
                del self._last_seen[ident]
                released.append(ident)
        return new, released

    def expire(self, now: float) -> list[str]:
        """Release and return the ids not seen for more than ``linger_s`` before ``now``."""
        released = []
        for ident, last in list(self._last_seen.items()):
            if now - last <= self.linger_s:
                break  # ordered by last sight: the rest are younger
            del self._last_seen[ident]
            released.append(ident)
        return released

    def release_all(self) -> list[str]:
        """Release every id (on shutdown)."""
        released, self._last_seen = list(self._last_seen), {}
        return released
