"""Launch files and parameter files name only things that exist.

``launch_ros`` is not installable from PyPI here, so the XML is read with ``xml.etree``: every
node of this package must name an executable in ``scripts/`` that CMakeLists.txt installs,
every parameter file must exist under ``config/``, every parameter name (in the launch file
and in the YAML files) must be declared by the node itself, which is constructed here to list
its parameters, and every ``$(var x)`` must have an ``<arg>``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.xml"))
PACKAGE = "openpose_ros"
_PKG_SHARE = f"$(find-pkg-share {PACKAGE})/"


@pytest.fixture(scope="module")
def declared(tmp_path_factory):
    """``{executable: set of parameter names}`` read from the constructed nodes."""
    import cv2
    import rclpy
    from rclpy.context import Context

    from openpose_ros.ros.pose_node import PoseNode
    from openpose_ros.ros.video_source import VideoSource

    folder = tmp_path_factory.mktemp("frames")
    cv2.imwrite(str(folder / "0.png"), np.zeros((8, 8, 3), np.uint8))
    context = Context()
    rclpy.init(context=context, domain_id=int(os.environ.get("OPENPOSE_ROS_TEST_DOMAIN", 0)) or
               1 + os.getpid() % 100)
    try:
        pose = PoseNode(context=context, parameter_overrides=[
            rclpy.parameter.Parameter("autostart", value=False)])
        source = VideoSource(context=context, parameter_overrides=[
            rclpy.parameter.Parameter("path", value=str(folder))])
        from openpose_ros.ros.triangulation_node import TriangulationNode

        triangulation = TriangulationNode(context=context, parameter_overrides=[
            rclpy.parameter.Parameter("calibration_file",
                                      value=str(REPO / "config" / "rig_example.yaml"))])
        from openpose_ros.ros.hri_bridge import HriBridge
        from openpose_ros.ros.rgbd_node import RgbdNode

        rgbd = RgbdNode(context=context)
        hri = HriBridge(context=context)
        names = {"pose_node": set(pose.list_parameters([], 0).names),
                 "video_source": set(source.list_parameters([], 0).names),
                 "triangulation_node": set(triangulation.list_parameters([], 0).names),
                 "rgbd_node": set(rgbd.list_parameters([], 0).names),
                 "hri_bridge": set(hri.list_parameters([], 0).names)}
        pose.destroy_node()
        source.destroy_node()
        triangulation.destroy_node()
        rgbd.destroy_node()
        hri.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return names


def _args(root: ET.Element) -> dict[str, str | None]:
    return {a.get("name"): a.get("default") for a in root.iter("arg")}


def _resolve(text: str, args: dict[str, str | None]) -> str:
    """Substitute ``$(var x)`` with the arg's default and this package's share with the repo."""
    text = re.sub(r"\$\(var (\w+)\)", lambda m: args[m.group(1)] or "", text)
    return text.replace(_PKG_SHARE, f"{REPO}/")


def _installed_programs() -> set[str]:
    cmake = (REPO / "CMakeLists.txt").read_text()
    names = set(re.findall(r"install\(PROGRAMS scripts/([\w.]+)", cmake))
    for group in re.findall(r"foreach\(\w+ ([^)]*)\)\s*\n\s*install\(PROGRAMS scripts/", cmake):
        names.update(group.split())
    return names


def test_there_are_launch_files_for_one_and_several_cameras():
    names = {p.name for p in LAUNCH_FILES}
    assert {"pose.launch.xml", "pose_multi_camera.launch.xml"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_only_existing_things(path, declared):
    root = ET.parse(path).getroot()
    assert root.tag == "launch"
    args = _args(root)
    used = set(re.findall(r"\$\(var (\w+)\)", path.read_text()))
    assert used <= set(args), f"undeclared args {used - set(args)}"
    installed = _installed_programs()
    ours = [n for n in root.iter("node") if n.get("pkg") == PACKAGE]
    assert ours, "no node of this package"
    for node in ours:
        exe = node.get("exec")
        script = REPO / "scripts" / exe
        assert script.is_file() and os.access(script, os.X_OK), f"scripts/{exe}"
        assert exe in installed, f"CMakeLists.txt does not install scripts/{exe}"
        for param in node.iter("param"):
            if param.get("from"):
                file = Path(_resolve(param.get("from"), args))
                assert file.is_file() and file.parent == REPO / "config", file
                _check_yaml(file, declared[exe])
            else:
                assert param.get("name") in declared[exe], f"{exe} has no {param.get('name')}"
    for node in root.iter("node"):
        for attr in ("args",):
            for ref in re.findall(r"\$\(find-pkg-share openpose_ros\)/(\S+)", node.get(attr, "")):
                assert (REPO / ref).is_file(), ref


def _check_yaml(file: Path, names: set[str]) -> None:
    data = yaml.safe_load(file.read_text())
    for node_key, section in data.items():
        params = section["ros__parameters"]
        unknown = set(params) - names
        assert not unknown, f"{file.name} [{node_key}]: not declared by the node: {unknown}"


@pytest.mark.parametrize("name", ["pose.yaml", "pose_multi_camera.yaml"])
def test_parameter_files_build_valid_configs(name, declared):
    """Every value in the file is accepted by the node's own checks."""
    from openpose_ros.ros.pose_config import PARAMETERS, build_configs

    values = {p.name: p.default for p in PARAMETERS}
    for section in yaml.safe_load((REPO / "config" / name).read_text()).values():
        for key, value in section["ros__parameters"].items():
            assert type(value) is type(values[key]), f"{key}: {value!r} has the wrong type"
            values[key] = value
    _, settings = build_configs(values)
    assert settings.cameras


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "config").glob("rgbd_*.yaml")))
def test_rgbd_presets_build_valid_configs(preset, declared):
    """rgbd.yaml then each camera preset (as the launch file loads them) give a valid config."""
    from openpose_ros.ros.rgbd_config import PARAMETERS, build_config

    values = {p.name: p.default for p in PARAMETERS}
    for name in ("rgbd.yaml", preset):
        _check_yaml(REPO / "config" / name, declared["rgbd_node"])
        for section in yaml.safe_load((REPO / "config" / name).read_text()).values():
            for key, value in section["ros__parameters"].items():
                assert type(value) is type(values[key]), f"{name} {key}: {value!r} has the wrong type"
                values[key] = value
    config = build_config(values)
    assert config.poses_topic.endswith("/poses") and config.registered


def test_rgbd_launch_offers_the_realsense_and_generic_presets():
    text = (REPO / "launch" / "rgbd.launch.xml").read_text()
    assert "config/rgbd_$(var preset).yaml" in text
    realsense = yaml.safe_load((REPO / "config" / "rgbd_realsense.yaml").read_text())
    params = realsense["/**"]["ros__parameters"]
    assert params["depth_topic"] == "/camera/camera/aligned_depth_to_color/image_raw"
    assert params["camera_info_topic"] == "/camera/camera/color/camera_info"
    assert (REPO / "config" / "rgbd_generic.yaml").is_file()


def test_cmake_installs_launch_and_config():
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r"install\(DIRECTORY[^)]*\blaunch\b[^)]*\bconfig\b", cmake)


def test_rviz_config_shows_the_annotated_images():
    rviz = yaml.safe_load((REPO / "config" / "pose.rviz").read_text())
    displays = rviz["Visualization Manager"]["Displays"]
    topics = [d["Topic"]["Value"] for d in displays if d["Class"].endswith("/Image")]
    assert "/camera/poses/image" in topics


def test_hri_parameter_file_builds_a_valid_config(declared):
    """Every value in config/hri.yaml has the declared type and passes the bridge's checks."""
    from openpose_ros.ros.hri_config import PARAMETERS, build_config

    values = {p.name: p.default for p in PARAMETERS}
    for section in yaml.safe_load((REPO / "config" / "hri.yaml").read_text()).values():
        for key, value in section["ros__parameters"].items():
            assert type(value) is type(values[key]), f"{key}: {value!r} has the wrong type"
            values[key] = value
    config = build_config(values)
    assert config.pose_topics and config.id_prefixes == ("c0",)
