"""StampSynchronizer: jittered, dropped, duplicated, out-of-order and stale stamps over 2-8 streams.

Each scenario builds frames at 30 fps with per-message jitter well inside the slop, delivers them
in a stated order, and checks the exact sets (members and stamps) and drop counters.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.threed.sync import StampSynchronizer, SyncConfig

MS = 1_000_000
PERIOD = 33 * MS
SLOP_S = 0.010


def _frames(num_streams: int, num_frames: int, rng: np.random.Generator, jitter_ms: float = 3.0):
    """stamp[k, s] in ns: frame k of stream s, jittered by up to +-jitter_ms."""
    jitter = rng.uniform(-jitter_ms, jitter_ms, (num_frames, num_streams)) * MS
    return (np.arange(num_frames)[:, None] * PERIOD + 1_000 * MS + jitter).astype(np.int64)


def _run(sync: StampSynchronizer, deliveries):
    """Feed (stream, stamp, payload) in order; returns [(frozenset(streams), stamp_ns, payloads)]."""
    out = []
    for stream, stamp, payload in deliveries:
        for s in sync.add(stream, stamp, payload):
            out.append((frozenset(s.streams), s.stamp_ns, s.payloads))
    return out


@pytest.mark.parametrize("num_streams", [2, 3, 5, 8])
def test_jitter_and_interleaving_give_every_complete_set(num_streams):
    rng = np.random.default_rng(num_streams)
    stamps = _frames(num_streams, 40, rng)
    # Arrival order: by stamp plus a random network delay of up to 2 frames (streams interleave,
    # each stream stays in order).
    delay = rng.uniform(0, 2 * PERIOD, stamps.shape)
    delay = np.maximum.accumulate(stamps + delay, axis=0)
    order = np.argsort(delay, axis=None, kind="stable")
    deliveries = [(s, int(stamps[k, s]), (k, s)) for k, s in zip(*np.unravel_index(order, stamps.shape))]
    sync = StampSynchronizer(SyncConfig(num_streams, slop_s=SLOP_S, queue_size=10))
    sets = _run(sync, deliveries)
    assert len(sets) == 40
    for k, (streams, stamp, payloads) in enumerate(sets):
        assert streams == frozenset(range(num_streams))
        assert payloads == {s: (k, s) for s in range(num_streams)}
        assert stamp == int(round(stamps[k].mean()))
    assert sync.stats.dropped == 0 and sync.pending() == 0


@pytest.mark.parametrize("num_streams", [3, 4, 8])
def test_dropped_frames_give_partial_sets_once_the_stream_moved_on(num_streams):
    rng = np.random.default_rng(10 + num_streams)
    stamps = _frames(num_streams, 60, rng)
    delivered = rng.random(stamps.shape) > 0.25
    delivered[-1] = True  # a final complete frame settles everything before it
    min_views = 2
    deliveries = []
    for k in range(len(stamps)):  # frame-major, shuffled within a frame
        for s in rng.permutation(num_streams):
            if delivered[k, s]:
                deliveries.append((int(s), int(stamps[k, s]), (k, int(s))))
    sync = StampSynchronizer(SyncConfig(num_streams, slop_s=SLOP_S, queue_size=10, min_views=min_views))
    sets = _run(sync, deliveries)
    expected = [k for k in range(len(stamps)) if delivered[k].sum() >= min_views]
    assert [sorted(p.values())[0][0] for _, _, p in sets] == expected
    for (streams, stamp, payloads), k in zip(sets, expected):
        members = np.flatnonzero(delivered[k])
        assert streams == frozenset(members.tolist())
        assert stamp == int(round(stamps[k, members].mean()))
    # Frames with a single message can never form a set: those messages are dropped as stale.
    lonely = int(delivered[delivered.sum(axis=1) < min_views].sum())
    assert sync.stats.stale == lonely and sync.stats.stragglers == 0


def test_duplicates_are_counted_and_change_nothing():
    rng = np.random.default_rng(3)
    stamps = _frames(4, 20, rng)
    deliveries = []
    for k in range(20):
        for s in range(4):
            deliveries.append((s, int(stamps[k, s]), (k, s)))
            if (k + s) % 3 == 0:
                deliveries.append((s, int(stamps[k, s]), ("dup", k, s)))
    sync = StampSynchronizer(SyncConfig(4, slop_s=SLOP_S))
    sets = _run(sync, deliveries)
    assert len(sets) == 20
    assert all(p == {s: (k, s) for s in range(4)} for k, (_, _, p) in enumerate(sets))
    # A duplicate arriving after its set went out is a straggler; before, a duplicate.
    assert sync.stats.duplicates + sync.stats.stragglers == sum(1 for d in deliveries if d[2][0] == "dup")


def test_out_of_order_message_after_its_set_is_a_straggler():
    stamps = _frames(3, 4, np.random.default_rng(4))
    d = lambda k, s: (s, int(stamps[k, s]), (k, s))  # noqa: E731
    # Stream 2 delivers frame 2 before frame 1; frame 1 settles without it when frame 2 arrives.
    deliveries = [d(0, 0), d(0, 1), d(0, 2), d(1, 0), d(1, 1), d(2, 2), d(2, 0), d(2, 1), d(1, 2),
                  d(3, 0), d(3, 1), d(3, 2)]
    sync = StampSynchronizer(SyncConfig(3, slop_s=SLOP_S, min_views=2))
    sets = _run(sync, deliveries)
    assert [s for s, _, _ in sets] == [frozenset({0, 1, 2}), frozenset({0, 1}), frozenset({0, 1, 2}),
                                       frozenset({0, 1, 2})]
    assert sets[1][2] == {0: (1, 0), 1: (1, 1)}
    assert sync.stats.stragglers == 1  # (1, 2) came after frame 1 was emitted


def test_old_message_is_stale():
    sync = StampSynchronizer(SyncConfig(2, slop_s=SLOP_S))
    sync.add(0, 1000 * MS, "a")
    assert len(sync.add(1, 1002 * MS, "b")) == 1
    assert sync.add(0, 500 * MS, "old") == []
    assert sync.stats.stale == 1 and sync.stats.stragglers == 0


def test_tightest_set_wins():
    # Stream 0 has two candidates within slop of stream 1's message; the closer one is chosen.
    sync = StampSynchronizer(SyncConfig(2, slop_s=SLOP_S))
    assert sync.add(0, 1000 * MS, "early") == []
    assert sync.add(0, 1008 * MS, "close") == []
    (s,) = sync.add(1, 1007 * MS, "b")
    assert s.payloads == {0: "close", 1: "b"} and s.stamp_ns == 1007_500_000
    assert sync.stats.stale == 1


def test_dead_camera_latency_is_bounded_by_queue_size():
    n, q, frames = 4, 5, 30
    stamps = _frames(n, frames, np.random.default_rng(5))
    sync = StampSynchronizer(SyncConfig(n, slop_s=SLOP_S, queue_size=q, min_views=3))
    sets = _run(sync, [(s, int(stamps[k, s]), (k, s)) for k in range(frames) for s in range(n - 1)])
    # A set waits for the dead stream until a queue would overflow: frame k goes out when
    # stream 0 delivers frame k + q; the last q frames are still waiting.
    assert len(sets) == frames - q
    for k, (streams, _, payloads) in enumerate(sets):
        assert streams == frozenset(range(n - 1)) and payloads[0] == (k, 0)
    assert sync.stats.overflow == 0 and sync.pending() == q * (n - 1)


def test_no_waiting_emits_as_soon_as_min_views_agree():
    sync = StampSynchronizer(SyncConfig(3, slop_s=SLOP_S, min_views=2, wait_for_stragglers=False))
    assert sync.add(0, 1000 * MS, "a") == []
    (s,) = sync.add(1, 1003 * MS, "b")
    assert s.streams == (0, 1)
    assert sync.add(2, 1001 * MS, "late") == [] and sync.stats.stragglers == 1


def test_bad_settings_and_streams_raise():
    with pytest.raises(ValueError):
        SyncConfig(0)
    with pytest.raises(ValueError):
        SyncConfig(3, min_views=4)
    with pytest.raises(ValueError):
        SyncConfig(3, slop_s=-1)
    with pytest.raises(ValueError):
        StampSynchronizer(SyncConfig(2)).add(2, 0, None)
