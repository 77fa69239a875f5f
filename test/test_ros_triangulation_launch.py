"""The triangulation launch file, its parameter file, the example rig and the rviz config.

``launch_ros`` is not installable here, so the XML is read with ``xml.etree``; the parameter
names are the ones the constructed node declares, and the values must build a valid config.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import REPO

pytest.importorskip("rclpy")

from rclpy.parameter import Parameter  # noqa: E402

from openpose_ros.ros.triangulation_config import PARAMETERS, build_config  # noqa: E402
from openpose_ros.ros.triangulation_node import TriangulationNode  # noqa: E402
from openpose_ros.threed.calibration_io import load_calibration  # noqa: E402

LAUNCH = REPO / "launch" / "triangulation.launch.xml"
SHARE = "$(find-pkg-share openpose_ros)/"


def _defaults(root):
    return {a.get("name"): a.get("default") for a in root.iter("arg")}


def _resolve(text: str, args) -> str:
    return re.sub(r"\$\(var (\w+)\)", lambda m: args[m.group(1)] or "", text).replace(SHARE, f"{REPO}/")


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    import rclpy
    from rclpy.context import Context

    from conftest import ROS_DOMAIN_ID

    context = Context()
    rclpy.init(context=context, domain_id=ROS_DOMAIN_ID)
    try:
        node = TriangulationNode(context=context, parameter_overrides=[
            Parameter("calibration_file", value=str(REPO / "config" / "rig_example.yaml"))])
        names = set(node.list_parameters([], 0).names)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return names


def test_launch_file_runs_the_node_with_declared_parameters(declared):
    root = ET.parse(LAUNCH).getroot()
    args = _defaults(root)
    assert set(re.findall(r"\$\(var (\w+)\)", LAUNCH.read_text())) <= set(args)
    (node,) = [n for n in root.iter("node") if n.get("pkg") == "openpose_ros"]
    assert node.get("exec") == "triangulation_node"
    assert (REPO / "scripts" / "triangulation_node").is_file()
    assert re.search(r"foreach\(\w+ [^)]*\btriangulation_node\b", (REPO / "CMakeLists.txt").read_text())
    for param in node.iter("param"):
        if param.get("from"):
            path = _resolve(param.get("from"), args)
            for section in yaml.safe_load(open(path)).values():
                assert set(section["ros__parameters"]) <= declared
        else:
            assert param.get("name") in declared
    assert load_calibration(_resolve(args["calibration_file"], args)).rig()
    for ref in re.findall(r"\$\(find-pkg-share openpose_ros\)/([\w./-]+)", LAUNCH.read_text()):
        assert (REPO / ref).is_file(), ref


def test_parameter_file_builds_a_valid_config():
    values = {p.name: p.default for p in PARAMETERS}
    for section in yaml.safe_load((REPO / "config" / "triangulation.yaml").read_text()).values():
        for key, value in section["ros__parameters"].items():
            assert type(value) is type(values[key]), f"{key}: {value!r} has the wrong type"
            values[key] = value
    values["calibration_file"] = str(REPO / "config" / "rig_example.yaml")
    config = build_config(values)
    assert config.slop_s < 1 / 60  # under half a 30 fps frame period


def test_example_rig_matches_the_multi_camera_launch():
    rig = load_calibration(REPO / "config" / "rig_example.yaml")
    topics = {e.topic for e in rig.entries}
    image_topics = yaml.safe_load((REPO / "config" / "pose_multi_camera.yaml").read_text())
    published = {t.rsplit("/", 1)[0] + "/poses" for s in image_topics.values()
                 for t in s["ros__parameters"]["image_topics"]}
    assert topics <= published
    cams = rig.rig().cameras
    for cam in cams:  # every camera looks at the middle of the room
        centre = cam.project([[0.0, 0.0, 1.0]])[0]
        assert cam.in_image(centre[None]).all()


def test_rviz_config_shows_skeletons_and_frames():
    rviz = yaml.safe_load((REPO / "config" / "triangulation.rviz").read_text())
    manager = rviz["Visualization Manager"]
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/poses3d/markers"
    assert "rviz_default_plugins/TF" in displays
    assert manager["Global Options"]["Fixed Frame"] == "world"
