"""Greedy assembly, person filters and number_people_max (spec §3.6-3.7), on hand-made inputs."""

from __future__ import annotations

import numpy as np

from openpose_ros.decode.assemble import (
    assemble_people, filter_people, keep_top_people, sort_connections,
)
from openpose_ros.layouts import BODY_25, COCO_18

K_NECK_RSH = COCO_18.paf_pairs.index((1, 2))
K_NECK_LSH = COCO_18.paf_pairs.index((1, 5))
K_RSH_REL = COCO_18.paf_pairs.index((2, 3))
K_RSH_REAR = COCO_18.paf_pairs.index((2, 16))  # redundant pair
K_NECK_NOSE = COCO_18.paf_pairs.index((1, 0))
K_NOSE_REYE = COCO_18.paf_pairs.index((0, 14))
K_REYE_REAR = COCO_18.paf_pairs.index((14, 16))


def _run(connections, peak_score, layout=COCO_18):
    limb, a, b, score = (np.array(v) for v in zip(*connections))
    rank = np.zeros(len(peak_score), dtype=np.int64)
    order = sort_connections(limb, a, b, score.astype(np.float32), np.array(peak_score), rank)
    return assemble_people(order, limb, a, b, score, np.array(peak_score), layout)


def test_sort_key_adds_a_tenth_of_both_confidences():
    # Same PAF score: the pair with more confident peaks comes first.
    limb, a, b = np.array([0, 1]), np.array([0, 2]), np.array([1, 3])
    order = sort_connections(limb, a, b, np.array([0.5, 0.5], np.float32),
                             np.array([0.1, 0.1, 0.9, 0.9]), np.zeros(4, np.int64))
    assert order.tolist() == [1, 0]


def test_chain_grows_one_person_also_through_a_redundant_pair():
    # Peaks: 0 Neck, 1 RShoulder, 2 RElbow, 3 REar.
    conf = [1.0, 1.0, 1.0, 1.0]
    people = _run([(K_NECK_RSH, 0, 1, 0.9), (K_RSH_REL, 1, 2, 0.8), (K_RSH_REAR, 1, 3, 0.7)], conf)
    assert len(people.count) == 1 and people.count[0] == 4
    # REar joined through the redundant pair (its slot was empty): conf + score added.
    assert np.isclose(people.total[0], 4.0 + 0.9 + 0.8 + 0.7)


def test_connection_inside_one_person_adds_its_score_only():
    conf = [1.0] * 4  # 0 Nose, 1 REye, 2 REar, 3 RShoulder
    people = _run([(K_NOSE_REYE, 0, 1, 0.9), (K_REYE_REAR, 1, 2, 0.9), (K_RSH_REAR, 3, 2, 0.6),
                   (K_RSH_REAR, 3, 2, 0.5)], conf)
    assert people.count.tolist() == [4]
    assert np.isclose(people.total[0], 4.0 + 0.9 + 0.9 + 0.6 + 0.5)


def test_occupied_slot_is_not_overwritten():
    conf = [1.0, 1.0, 1.0]  # 0 Neck, 1 RShoulder, 2 another RShoulder
    people = _run([(K_NECK_RSH, 0, 1, 0.9), (K_NECK_RSH, 0, 2, 0.8)], conf)
    assert people.count.tolist() == [2] and people.parts[0, 2] == 1


def test_two_people_merge_when_disjoint_and_not_when_they_clash():
    # 0 Neck, 1 RShoulder, 2 Nose, 3 REye: {Neck,RSh} and {Nose,REye} merge via Neck-Nose.
    conf = [1.0] * 4
    merged = _run([(K_NECK_RSH, 0, 1, 0.9), (K_NOSE_REYE, 2, 3, 0.85), (K_NECK_NOSE, 0, 2, 0.5)],
                  conf)
    assert merged.count.tolist() == [4]
    assert np.isclose(merged.total[0], 4.0 + 0.9 + 0.85 + 0.5)
    # 0 Neck, 1 RSh, 2 Neck', 3 LSh', 4 RSh'': both groups hold a Neck -> no merge.
    conf = [1.0] * 5
    clash = _run([(K_NECK_RSH, 0, 1, 0.9), (K_NECK_LSH, 2, 3, 0.85), (K_NECK_RSH, 2, 1, 0.3)], conf)
    assert sorted(clash.count.tolist()) == [2, 2]


def test_filter_thresholds_and_rerun_without_the_foot_rule():
    parts = np.full((2, 25), -1)
    parts[0, [1, 8, 2]] = [0, 1, 2]  # a 3-joint upper body
    parts[1, [19, 20, 21, 14]] = [3, 4, 5, 6]  # ankle + 3 foot joints
    from openpose_ros.decode.assemble import Assembly
    people = Assembly(parts, np.array([3, 4]), np.array([3.0, 4.0]))
    kept = filter_people(people, BODY_25, min_subset_cnt=3, min_subset_score=0.4,
                         maximize_positives=False, max_people=127)
    assert kept.tolist() == [0]  # feet do not count: the second has 1 joint
    feet_only = Assembly(parts[1:], np.array([4]), np.array([4.0]))
    kept = filter_people(feet_only, BODY_25, min_subset_cnt=3, min_subset_score=0.4,
                         maximize_positives=False, max_people=127)
    assert kept.tolist() == [0]  # nobody survived, so the rerun without the foot rule keeps it
    weak = Assembly(parts[:1], np.array([3]), np.array([1.0]))
    assert filter_people(weak, BODY_25, min_subset_cnt=3, min_subset_score=0.4,
                         maximize_positives=False, max_people=127).tolist() == []


def test_keep_top_people_ranks_by_score_times_sqrt_area_and_keeps_order():
    body = np.zeros((3, 2, 3))
    body[:, 1, :2] = [[10, 10], [40, 40], [20, 20]]  # boxes 10x10, 40x40, 20x20
    body[..., 2] = 1.0
    scores = np.array([1.0, 0.2, 0.6])  # ranks 10, 8, 12
    assert keep_top_people(body, scores, 2).tolist() == [0, 2]
    assert keep_top_people(body, scores, -1).tolist() == [0, 1, 2]
    tie = keep_top_people(body, np.array([1.0, 0.25, 0.5]), 1)  # ranks 10, 10, 10
    assert tie.tolist() == [0]
