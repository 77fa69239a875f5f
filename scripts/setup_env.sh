#!/usr/bin/env bash
# Creates the development environment: a virtual environment that is a ROS 2 Jazzy prefix
# (real rclpy + Fast DDS from PyPI wheels), PyTorch, the test tools, and this package's
# messages built with the real rosidl pipeline (colcon + ament_cmake). Leaves ./env.sh to source.
#
# Idempotent: every step checks a stamp and is skipped when its inputs have not changed, so a
# second run reports "nothing to do" in a few seconds. Any failing step stops with a message
# naming the step.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OPENPOSE_ROS_VENV:-$REPO/.venv}"
BUILD="$REPO/build"
INSTALL="$REPO/install"
STAMPS="$VENV/.openpose_ros_stamps"
PYTHON_BIN="${PYTHON:-python3}"
did_something=0

step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[31m[setup] FAILED: %s\033[0m\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
# Stamps of what goes into the venv live in it; stamps of this checkout's build live in build/,
# so several checkouts can share one venv (OPENPOSE_ROS_VENV) without rebuilding each other.
stamp_ok() { local d="${3:-$STAMPS}"; [[ -f "$d/$1" && "$(cat "$d/$1")" == "$2" ]]; }
stamp_set() { local d="${3:-$STAMPS}"; mkdir -p "$d"; echo "$2" > "$d/$1"; }

# 1. Interpreter -------------------------------------------------------------------------
command -v "$PYTHON_BIN" >/dev/null || fail "no $PYTHON_BIN on PATH (Python 3.11 is required: the ROS wheels are cp311)"
pyver=$("$PYTHON_BIN" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ "$pyver" == "3.11" ]] || fail "Python $pyver found; the ROS 2 Jazzy wheels on PyPI need Python 3.11 (set PYTHON=python3.11)"
command -v cmake >/dev/null || fail "cmake is required to build the messages (apt-get install cmake)"
command -v g++ >/dev/null || fail "a C++ compiler is required to build the messages (apt-get install g++)"

# 2. Virtual environment -----------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating virtual environment $VENV"
  "$PYTHON_BIN" -m venv "$VENV" || fail "python -m venv $VENV"
  did_something=1
fi
PY="$VENV/bin/python"

# 3. Python packages (ROS 2 Jazzy wheels, torch, OpenCV 4.x, test tools) -----------------
req_hash=$(hash_of "$REPO/requirements.txt")
if ! stamp_ok requirements "$req_hash"; then
  step "installing Python packages from requirements.txt (first run: several minutes)"
  pip_log="$VENV/pip-install.log"
  "$PY" -m pip install --disable-pip-version-check -r "$REPO/requirements.txt" > "$pip_log" 2>&1 \
    || { grep -v "^WARNING: Location" "$pip_log" | tail -30 >&2
         fail "pip install -r requirements.txt (is the package registry reachable? log: $pip_log)"; }
  stamp_set requirements "$req_hash"
  did_something=1
fi

# 4. Repair the wheels' CMake files, which name the build machine's Python paths ----------
py_include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_include=$("$PY" -c 'import numpy; print(numpy.get_include())')
mapfile -t broken < <(grep -rlE '/opt/python/cp311-cp311/(include|lib)' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
if (( ${#broken[@]} )); then
  step "repairing build-machine paths in ${#broken[@]} CMake files"
  sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#${py_include}#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_include}#g" \
    "${broken[@]}" || fail "rewriting CMake paths"
  did_something=1
fi

export AMENT_PREFIX_PATH="$INSTALL:$VENV"
export CMAKE_PREFIX_PATH="$INSTALL:$VENV"
export PATH="$VENV/bin:$PATH"
cmake_args=(-DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF)

colcon_build() {  # colcon_build <package dir> <log name>
  colcon --log-base "$BUILD/log" build --paths "$1" --build-base "$BUILD" \
    --install-base "$INSTALL" --merge-install --cmake-args "${cmake_args[@]}" \
    > "$BUILD/$2.log" 2>&1 || { tail -40 "$BUILD/$2.log" >&2; fail "colcon build of $2 (log: $BUILD/$2.log)"; }
}
mkdir -p "$BUILD"

# 5. tf2_msgs stand-in where the ROS install lacks it (not on PyPI) -----------------------
if ! "$PY" -c 'import tf2_msgs.msg' >/dev/null 2>&1 && [[ ! -f "$INSTALL/share/tf2_msgs/package.xml" ]]; then
  step "building a tf2_msgs stand-in interface package (TFMessage, standard definition)"
  src="$BUILD/tf2_msgs_src"
  mkdir -p "$src/msg"
  echo 'geometry_msgs/TransformStamped[] transforms' > "$src/msg/TFMessage.msg"
  cat > "$src/package.xml" <<'EOF'
<?xml version="1.0"?>
<package format="3">
  <name>tf2_msgs</name>
  <version>0.36.0</version>
  <description>Stand-in for tf2_msgs (TFMessage only), built by openpose_ros's set-up.</description>
  <maintainer email="maintainers@openpose-ros.dev">openpose_ros maintainers</maintainer>
  <license>BSD-3-Clause</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>geometry_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
EOF
  cat > "$src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(tf2_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME} "msg/TFMessage.msg" DEPENDENCIES geometry_msgs)
ament_package()
EOF
  colcon_build "$src" tf2_msgs
  did_something=1
fi

# 5b. hri_msgs stand-in where no installed hri_msgs exists (ROS4HRI, REP-155; not on PyPI) ---
# The definitions live in scripts/hri_msgs_standin/ (the ROS 2 package's field lists, so the
# stand-in is wire- and type-hash-compatible); the package is assembled in build/ and rebuilt
# when they change. An hri_msgs the environment already imports (a ROS install) is used instead.
hri_hash=$(hash_of "$REPO"/scripts/hri_msgs_standin/*.msg)
if ! "$PY" -c 'import hri_msgs.msg' >/dev/null 2>&1 \
   || [[ -f "$INSTALL/share/hri_msgs/package.xml" ]]; then
  if ! stamp_ok hri_msgs "$hri_hash" "$BUILD/.stamps" || [[ ! -f "$INSTALL/share/hri_msgs/package.xml" ]]; then
    step "building an hri_msgs stand-in interface package (REP-155 messages, ROS 2 definitions)"
    src="$BUILD/hri_msgs_src"
    rm -rf "$src" && mkdir -p "$src/msg"
    cp "$REPO"/scripts/hri_msgs_standin/*.msg "$src/msg/"
    cat > "$src/package.xml" <<'EOF'
<?xml version="1.0"?>
<package format="3">
  <name>hri_msgs</name>
  <version>2.0.0</version>
  <description>Stand-in for ROS4HRI hri_msgs (the REP-155 messages openpose_ros publishes), built by openpose_ros's set-up.</description>
  <maintainer email="maintainers@openpose-ros.dev">openpose_ros maintainers</maintainer>
  <license>Apache-2.0</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>std_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
EOF
    msgs=$(cd "$src" && printf '"%s" ' msg/*.msg)
    cat > "$src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(hri_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(std_msgs REQUIRED)
rosidl_generate_interfaces(\${PROJECT_NAME} ${msgs}DEPENDENCIES std_msgs)
ament_package()
EOF
    colcon_build "$src" hri_msgs
    stamp_set hri_msgs "$hri_hash" "$BUILD/.stamps"
    did_something=1
  fi
fi

# 6. This package: messages (rosidl), Python package, node executables, launch, config -----
pkg_hash=$(hash_of "$REPO"/msg/*.msg "$REPO/CMakeLists.txt" "$REPO/package.xml" "$REPO"/scripts/*_node "$REPO/scripts/video_source" "$REPO/scripts/hri_bridge")
if ! stamp_ok package "$pkg_hash" "$BUILD/.stamps" || [[ ! -d "$INSTALL/lib/python3.11/site-packages/openpose_ros/msg" ]]; then
  step "building openpose_ros with colcon (rosidl messages + Python package)"
  # CMake refuses exported include paths inside the source tree, and the venv (numpy's headers)
  # lives in this checkout: build from a staging folder of links to the package's files.
  stage="$BUILD/src/openpose_ros"
  rm -rf "$stage" && mkdir -p "$stage"
  for item in package.xml CMakeLists.txt msg openpose_ros scripts launch config; do
    ln -s "$REPO/$item" "$stage/$item"
  done
  colcon_build "$stage" openpose_ros
  stamp_set package "$pkg_hash" "$BUILD/.stamps"
  did_something=1
fi

# 7. Environment file ----------------------------------------------------------------------
env_file="$REPO/env.sh"
env_text=$(cat <<EOF
# Generated by scripts/setup_env.sh: source it to use openpose_ros from this source tree.
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$INSTALL/bin:\$PATH"
export AMENT_PREFIX_PATH="$INSTALL:$VENV"
export CMAKE_PREFIX_PATH="$INSTALL:$VENV"
export PYTHONPATH="$REPO:$INSTALL/lib/python3.11/site-packages\${PYTHONPATH:+:\$PYTHONPATH}"
export LD_LIBRARY_PATH="$INSTALL/lib:$VENV/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
# DDS traffic stays on this machine unless the user says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export RMW_IMPLEMENTATION="\${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# OpenMP workers wait without spinning (as openpose_ros/__init__.py sets it), also for scripts
# and tests that import torch before openpose_ros: libgomp reads this once, when torch loads.
export OMP_WAIT_POLICY="\${OMP_WAIT_POLICY:-PASSIVE}"
EOF
)
if [[ ! -f "$env_file" || "$(cat "$env_file")" != "$env_text" ]]; then
  echo "$env_text" > "$env_file"
  did_something=1
fi

# 8. Smoke check: the generated messages import next to the source package ----------------
# shellcheck disable=SC1090
source "$env_file"
"$PY" -c 'import rclpy, tf2_msgs.msg, torch, cv2; from openpose_ros.msg import Pose2DArray, Pose3DArray; from hri_msgs.msg import IdsList, Skeleton2D, FacialLandmarks, NormalizedRegionOfInterest2D' \
  || fail "the environment does not import rclpy/torch/cv2/openpose_ros.msg/hri_msgs.msg (see the error above)"

if (( did_something )); then step "environment ready: source $env_file"; else step "nothing to do: environment up to date ($env_file)"; fi
