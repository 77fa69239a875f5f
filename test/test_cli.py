"""The offline command line: images and video in, OpenPose JSON and renders out, no ROS."""

import json
import shutil

import cv2
import numpy as np
import pytest

from openpose_ros.cli import main
from openpose_ros.decode.openpose_json import parse_openpose_json
from openpose_ros.layouts import COCO_18
from openpose_ros.pipeline import PipelineConfig, PosePipeline

IR = "models/intel_human_pose_estimation_0001_FP16-INT8"
ARGS = ["--model", "LIGHTWEIGHT_COCO_18", "--net-resolution=-1x128", "--device", "cpu"]


@pytest.fixture
def models_dir(shared_data, tmp_path):
    """A models directory with the shared lightweight IR linked in the registry's layout."""
    target = tmp_path / "models" / "intel" / "human-pose-estimation-0001" / "FP16-INT8"
    target.mkdir(parents=True)
    for f in (shared_data / IR).iterdir():
        (target / f.name).symlink_to(f)
    return tmp_path / "models"


def test_images_give_openpose_json_equal_to_the_pipeline(shared_data, models_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = ["COCO_val2014_000000000192", "COCO_val2014_000000000241"]
    for name in names:
        shutil.copy(shared_data / "images" / "openpose_examples" / f"{name}.jpg", inputs)
    (inputs / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert main(["--input", str(inputs), "--output", str(out), "--models-dir", str(models_dir),
                 *ARGS]) == 0
    pipeline = PosePipeline.load(PipelineConfig(model="LIGHTWEIGHT_COCO_18", device="cpu",
                                                models_dir=str(models_dir),
                                                net_resolution=(-1, 128)))
    for name in names:
        image = cv2.imread(str(inputs / f"{name}.jpg"))
        expected = pipeline([image])[0]
        text = (out / "json" / f"{name}_keypoints.json").read_text()
        got = parse_openpose_json(text, COCO_18, (image.shape[1], image.shape[0]))
        assert len(got) == len(expected) > 0
        # JSON keeps 6 significant digits, as OpenPose writes it.
        np.testing.assert_allclose(np.nan_to_num(got.body), np.nan_to_num(expected.body),
                                   rtol=1e-5, atol=1e-3)
        assert (out / f"{name}_rendered.png").is_file()
    assert not (out / "json" / "broken_keypoints.json").exists()


def test_video_frames_are_numbered(shared_data, models_dir, tmp_path, capsys):
    out = tmp_path / "out"
    video = shared_data / "video" / "openpose_video.avi"
    assert main(["--input", str(video), "--output", str(out), "--models-dir", str(models_dir),
                 "--max-frames", "2", *ARGS]) == 0
    assert sorted(p.name for p in (out / "json").iterdir()) == [
        "openpose_video_000000000000_keypoints.json", "openpose_video_000000000001_keypoints.json"]
    capture = cv2.VideoCapture(str(out / "openpose_video_rendered.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    assert "2 frames" in capsys.readouterr().out


def test_tracking_writes_person_ids_that_follow_the_people(shared_data, models_dir, tmp_path):
    video, out = shared_data / "video" / "openpose_video.avi", tmp_path / "out"
    assert main(["--input", str(video), "--output", str(out), "--models-dir", str(models_dir),
                 "--max-frames", "3", "--no-render", "--tracking", *ARGS]) == 0
    ids = [[p["person_id"][0] for p in json.loads(f.read_text())["people"]]
           for f in sorted((out / "json").iterdir())]
    assert len(ids[0]) > 0 and ids[0] == [-1] * len(ids[0])  # confirmed at the second hit
    tracked = [[i for i in frame if i >= 0] for frame in ids]
    assert tracked[1] and all(len(set(t)) == len(t) for t in tracked)  # no id twice in a frame
    assert set(tracked[2]) & set(tracked[1])  # the same people keep their ids


def test_missing_model_or_input_stops_with_what_to_do(tmp_path, capsys):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert main(["--input", str(image), "--output", str(tmp_path / "o"), "--models-dir",
                 str(tmp_path / "empty"), "--no-download", "--model", "BODY_25"]) == 1
    err = capsys.readouterr().err
    assert "BODY_25 is not installed" in err and "pose_iter_584000.caffemodel" in err
    assert main(["--input", str(tmp_path / "nothing.mp4"), "--output", str(tmp_path / "o")]) == 1
    assert "no such video file or image folder" in capsys.readouterr().err
