"""The .trc writer (``threed.trc``) read back by a plain parser: header, markers, empty cells
for missing joints, and OpenSim's Y-up axes from a Z-up world."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.threed.trc import Y_UP_FROM_Z_UP, format_trc


def _parse(text: str):
    rows = [line.split("\t") for line in text.splitlines()]
    return rows, np.array([[float(c) if c else np.nan for c in r[2:]] for r in rows[5:]])


def test_header_rows_and_missing_cells():
    pts = np.array([[[0.1, 0.2, 0.3], [np.nan] * 3], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    rows, values = _parse(format_trc("t.trc", ["Nose", "Neck"], pts, 60.0, first_frame=5))
    assert rows[0] == ["PathFileType", "4", "(X/Y/Z)", "t.trc"]
    assert dict(zip(rows[1], rows[2])) == {"DataRate": "60", "CameraRate": "60", "NumFrames": "2",
                                           "NumMarkers": "2", "Units": "m", "OrigDataRate": "60",
                                           "OrigDataStartFrame": "5", "OrigNumFrames": "2"}
    assert rows[3] == ["Frame#", "Time", "Nose", "", "", "Neck", "", ""]
    assert rows[4] == ["", "", "X1", "Y1", "Z1", "X2", "Y2", "Z2"]
    assert [r[:2] for r in rows[5:]] == [["1", "0.000000"], ["2", "0.016667"]]
    assert np.allclose(values, pts.reshape(2, 6), equal_nan=True)
    assert rows[5][5:] == ["", "", ""]  # missing: empty cells, never zeros


def test_y_up_axes_from_a_z_up_world():
    world = np.array([[[1.0, 2.0, 3.0]]])  # x forward, y left, z up
    _, values = _parse(format_trc("t.trc", ["Nose"], world, 30.0, axes=Y_UP_FROM_Z_UP))
    assert values[0].tolist() == [2.0, 3.0, 1.0]  # OpenSim: Y is the world's up
    rotation = np.eye(3)[list(Y_UP_FROM_Z_UP)]
    assert np.linalg.det(rotation) == pytest.approx(1.0)  # a rotation, not a mirror


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[F, 2, 3\]"):
        format_trc("t.trc", ["a", "b"], np.zeros((3, 3, 3)), 60.0)
    with pytest.raises(ValueError, match="rate"):
        format_trc("t.trc", ["a"], np.zeros((1, 1, 3)), 0.0)
