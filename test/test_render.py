"""The renderer draws what the layout tables say, where the people are."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import COCO_18, HAND_21
from openpose_ros.people import People, empty_keypoints
from openpose_ros.render import draw_people


def _one_person(score: float = 0.9) -> People:
    body = empty_keypoints(1, 18)
    body[0, 1] = [100, 50, score]  # Neck
    body[0, 2] = [60, 52, score]  # RShoulder
    body[0, 3] = [55, 110, 0.01]  # RElbow, below the render threshold
    return People(COCO_18, (200, 150), body, np.ones(1))


def test_draws_limb_in_the_second_joints_colour_and_returns_a_copy():
    image = np.zeros((150, 200, 3), np.uint8)
    out = draw_people(image, _one_person())
    assert image.sum() == 0 and out.sum() > 0
    r, g, b = COCO_18.colors[2]  # Neck-RShoulder is drawn in RShoulder's colour (BGR on screen)
    assert tuple(out[51, 80]) == (b, g, r)
    assert out[80:, :].sum() == 0  # the low-score elbow and its limb are not drawn


def test_in_place_and_threshold():
    image = np.zeros((150, 200, 3), np.uint8)
    out = draw_people(image, _one_person(0.04), copy=False)
    assert out is image and image.sum() == 0  # 0.04 < 0.05: nothing drawn
    draw_people(image, _one_person(0.04), threshold=0.01, copy=False)
    assert image.sum() > 0


def test_hands_are_drawn_when_present():
    people = _one_person()
    hand = np.zeros((1, 21, 3), np.float32)
    hand[0, :, 0] = np.linspace(120, 180, 21)
    hand[0, :, 1] = 120
    hand[0, :, 2] = 0.5
    with_hands = people.with_parts(left_hand=hand, right_hand=np.zeros((1, 21, 3), np.float32))
    out = draw_people(np.zeros((150, 200, 3), np.uint8), with_hands)
    assert out[115:125, 120:180].sum() > 0
    low = draw_people(np.zeros((150, 200, 3), np.uint8), with_hands, hand_threshold=0.6)
    assert low[115:125, 120:180].sum() == 0
    assert len(HAND_21.render_pairs) == 20


@pytest.mark.parametrize("image", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_bad_image_is_a_value_error(image):
    with pytest.raises(ValueError):
        draw_people(image, _one_person())


def test_a_tracked_persons_id_is_written_above_it_and_an_untracked_one_gets_none():
    untracked = draw_people(np.zeros((150, 200, 3), np.uint8), _one_person())
    person = _one_person()
    person.track_ids[:] = 7
    tracked = draw_people(np.zeros((150, 200, 3), np.uint8), person)
    changed = (tracked != untracked).any(axis=2)
    rows, cols = np.nonzero(changed)
    text = tracked[changed].astype(int)
    assert len(rows) > 20 and text.max() > 150  # white (anti-aliased) text
    assert (text.max(axis=1) == text.min(axis=1)).all()  # grey levels only
    # above the joints (top at y = 50), starting at their left edge (x = 60)
    assert rows.max() <= 52 and cols.min() >= 55 and cols.max() < 120
