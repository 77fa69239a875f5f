# openpose_ros: the conventional interface (see README).
#   make setup  the environment (.venv as a ROS 2 Jazzy prefix, messages built) -> env.sh
#   make demo   the main job: video source + pose node on the real ROS graph
#   make demo3d offline multi-view 3D (openpose-ros-3d) on Pose2Sim's balancing trial
#   make test   the test suite
#   make bench  every benchmark under bench/ (lines "BENCH <name> <value> goal ...")
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eo pipefail -c
SHARED ?= $(abspath ../shared)
DEMO_INPUT ?= $(SHARED)/data/video/openpose_video.avi
DEMO_OUTPUT ?= demo_output
DEMO_ARGS ?=
DEMO3D_TRIAL ?= $(SHARED)/data/multiview/pose2sim_demo/S00_P00_T01_BalancingTrial
DEMO3D_CALIBRATION ?= $(SHARED)/data/multiview/pose2sim_demo/calibration/Calib_qualisys.toml
DEMO3D_OUTPUT ?= demo3d_output
DEMO3D_ARGS ?= --net-resolution=-1x368
PYTEST_ARGS ?=

.PHONY: setup demo demo3d link-lightweight test bench clean

setup:
	bash scripts/setup_env.sh

# The lightweight model (Apache-2.0) comes from the models directory, else from ../shared
# (linked, never copied into the repository), else it is downloaded by the demo.
MODELS_DIR := $${OPENPOSE_ROS_MODELS:-$$HOME/.cache/openpose_ros/models}
link-lightweight:
	ir="$(MODELS_DIR)/intel/human-pose-estimation-0001/FP16-INT8"
	src="$(SHARED)/data/models/intel_human_pose_estimation_0001_FP16-INT8"
	if [ ! -e "$$ir/human-pose-estimation-0001.xml" ] && [ -d "$$src" ]; then
	  mkdir -p "$$ir" && ln -sf "$$src"/* "$$ir/"
	fi

demo: setup link-lightweight
	source env.sh
	OPENPOSE_ROS_MODELS="$(MODELS_DIR)" python -m openpose_ros.ros.demo \
	  --input "$(DEMO_INPUT)" --output "$(DEMO_OUTPUT)" $(DEMO_ARGS)

# Four calibrated 60 fps videos; cam01/cam02 decode 1080 wide against a 1088-wide calibration
# (codec padding, accepted with a warning).
demo3d: setup link-lightweight
	source env.sh
	OPENPOSE_ROS_MODELS="$(MODELS_DIR)" python -m openpose_ros.cli3d \
	  --calibration "$(DEMO3D_CALIBRATION)" \
	  --videos "$(DEMO3D_TRIAL)"/videos/cam0{1,2,3,4}.mp4 \
	  --output "$(DEMO3D_OUTPUT)" --model LIGHTWEIGHT_COCO_18 $(DEMO3D_ARGS)

test: setup
	source env.sh
	OPENPOSE_ROS_SHARED="$(SHARED)" python -m pytest -q $(PYTEST_ARGS)

bench: setup
	source env.sh
	export OPENPOSE_ROS_SHARED="$(SHARED)"
	status=0
	for script in bench/bench_*.py; do
	  echo "== $$script"
	  python "$$script" || { echo "BENCH-SCRIPT-FAILED $$script"; status=1; }
	done
	exit $$status

clean:
	rm -rf build install log env.sh
