"""The ROS package itself: package.xml, CMake interface list, installed build, dependencies."""

import ast
import re
from pathlib import Path

from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "install"

# Python imports of the package and the rosdep key that provides each on a ROS machine.
ROSDEP_KEYS = {"numpy": "python3-numpy", "scipy": "python3-scipy", "cv2": "python3-opencv",
               "yaml": "python3-yaml", "torch": "python3-torch", "rclpy": "rclpy"}
# Imported lazily and only for optional features; documented in the README instead.
OPTIONAL = {"openvino", "safetensors"}
STDLIB_OR_OWN = {"openpose_ros"}


def _package():
    return parse_package(str(REPO / "package.xml"))  # validates format 3 (raises when invalid)


def _imports():
    found = set()
    for path in (REPO / "openpose_ros").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_package_xml_is_valid_format_3():
    pkg = _package()
    pkg.validate()
    assert pkg.package_format == 3 and pkg.name == "openpose_ros"
    assert pkg.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [g.name for g in pkg.member_of_groups]


def test_every_imported_dependency_is_declared_with_its_rosdep_key():
    import sys

    pkg = _package()
    declared = {d.name for d in pkg.build_depends + pkg.exec_depends + pkg.test_depends
                + pkg.buildtool_depends}
    missing = []
    for module in sorted(_imports() - STDLIB_OR_OWN - OPTIONAL):
        if module in sys.stdlib_module_names:
            continue
        key = ROSDEP_KEYS.get(module, module)  # ROS packages: key == package name
        if key not in declared:
            missing.append(f"{module} (rosdep key {key})")
    assert not missing, f"package.xml lacks: {', '.join(missing)}"


def test_cmake_generates_every_message_file():
    cmake = (REPO / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"msg/(\w+\.msg)"', cmake))
    assert listed == {p.name for p in (REPO / "msg").glob("*.msg")}


def test_every_installed_executable_exists_and_is_installed():
    cmake = (REPO / "CMakeLists.txt").read_text()
    entries = re.search(r"foreach\(entry ([\w ]+)\)", cmake).group(1).split()
    for entry in entries:
        script = REPO / "scripts" / entry
        assert script.is_file() and script.stat().st_mode & 0o111, f"scripts/{entry} missing"
        assert (INSTALL / "lib" / "openpose_ros" / entry).is_file(), f"{entry} not installed"
        module = re.search(r"from (openpose_ros[\w.]*) import main", script.read_text()).group(1)
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), f"{module} missing"


def test_generated_messages_installed_by_the_rosidl_build():
    site = INSTALL / "lib" / "python3.11" / "site-packages" / "openpose_ros" / "msg"
    for name in ("_pose2_d_array.py", "_pose3_d_array.py", "_keypoints2_d.py"):
        assert (site / name).is_file()
    assert list(INSTALL.glob("lib/libopenpose_ros__rosidl_typesupport_fastrtps_c.so"))
