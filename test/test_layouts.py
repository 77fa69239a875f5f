"""Keypoint layout tables against the facts in openpose-spec §1.6 and §2."""

import pytest

from openpose_ros.layouts import (BODY_25, BODY_LAYOUTS, COCO_18, FACE_70, HAND_21, LAYOUTS,
                                  MPI_15, layout_by_id, layout_by_name)


@pytest.mark.parametrize("layout, parts, pairs, channels", [
    (BODY_25, 25, 26, 78), (COCO_18, 18, 19, 57), (MPI_15, 15, 14, 44),
    (HAND_21, 21, 0, 22), (FACE_70, 70, 0, 71)])
def test_counts_match_net_output(layout, parts, pairs, channels):
    assert layout.num_parts == parts
    assert len(layout.paf_pairs) == len(layout.paf_channels) == pairs
    assert layout.num_channels == channels
    assert layout.background_channel == parts
    assert len(layout.colors) == parts
    assert len(set(layout.part_names)) == parts


@pytest.mark.parametrize("layout", list(BODY_LAYOUTS.values()))
def test_paf_channels_cover_the_paf_block_once(layout):
    flat = [c for xy in layout.paf_channels for c in xy]
    assert sorted(flat) == list(range(layout.num_parts + 1, layout.num_channels))
    # x and y components are adjacent channels, x first.
    assert all(y == x + 1 for x, y in layout.paf_channels)


def test_body25_pairs_and_channels_from_spec():
    assert BODY_25.paf_pairs[0] == (1, 8) and BODY_25.paf_channels[0] == (26, 27)
    assert BODY_25.paf_pairs[13] == (1, 0) and BODY_25.paf_channels[13] == (56, 57)
    assert BODY_25.paf_pairs[25] == (11, 24) and BODY_25.paf_channels[25] == (76, 77)
    # The raw mapIdx (channel - 26) of pair 1 (neck-RShoulder) is 14/15.
    assert tuple(c - 26 for c in BODY_25.paf_channels[1]) == (14, 15)
    assert [BODY_25.paf_pairs[k] for k in BODY_25.redundant_pairs] == [(2, 17), (5, 18)]
    assert BODY_25.foot_parts == tuple(range(19, 25))
    assert BODY_25.part_names[8] == "MidHip" and BODY_25.part_names[24] == "RHeel"


def test_coco_pairs_and_names_from_spec():
    assert COCO_18.paf_pairs[6] == (1, 8) and COCO_18.paf_channels[6] == (19, 20)
    assert COCO_18.paf_pairs[0] == (1, 2) and COCO_18.paf_channels[0] == (31, 32)
    assert [COCO_18.paf_pairs[k] for k in COCO_18.redundant_pairs] == [(2, 16), (5, 17)]
    # OpenPose order: REye 14, LEye 15, REar 16, LEar 17 (REP-155 has them the other way).
    assert COCO_18.index("REye") == 14 and COCO_18.index("LEar") == 17


def test_mpi_pairs_sequential():
    assert MPI_15.paf_channels[0] == (16, 17) and MPI_15.paf_channels[13] == (42, 43)
    assert MPI_15.paf_pairs[7] == (1, 14) and MPI_15.part_names[14] == "Chest"


@pytest.mark.parametrize("layout, drawn", [(BODY_25, 24), (COCO_18, 17), (MPI_15, 14),
                                           (HAND_21, 20)])
def test_render_pairs(layout, drawn):
    assert len(layout.render_pairs) == drawn
    for k in layout.redundant_pairs:
        assert layout.paf_pairs[k] not in layout.render_pairs


def test_face_render_pairs_chains_and_loops():
    pairs = set(FACE_70.render_pairs)
    assert (0, 1) in pairs and (15, 16) in pairs and (16, 17) not in pairs
    assert (41, 36) in pairs and (67, 60) in pairs
    assert not any(68 in p or 69 in p for p in pairs)  # pupils are not connected
    assert FACE_70.part_names[68:] == ("RPupil", "LPupil")


def test_hand_joint_names():
    assert HAND_21.part_names[0] == "Wrist"
    assert HAND_21.part_names[1:5] == ("ThumbCMC", "ThumbMCP", "ThumbIP", "ThumbTip")
    assert HAND_21.part_names[20] == "PinkyTip"
    assert HAND_21.render_pairs[:4] == ((0, 1), (1, 2), (2, 3), (3, 4))


def test_lookup():
    assert layout_by_name("body_25") is BODY_25
    assert layout_by_id(COCO_18.msg_id) is COCO_18
    assert set(LAYOUTS) == {"BODY_25", "COCO_18", "MPI_15", "HAND_21", "FACE_70"}
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        layout_by_name("BODY_135")
    with pytest.raises(ValueError, match="unknown body layout id"):
        layout_by_id(7)
    with pytest.raises(KeyError, match="COCO_18 has no joint named 'MidHip'"):
        COCO_18.index("MidHip")
    assert BODY_25.has("MidHip", "LHeel") and not COCO_18.has("MidHip")
