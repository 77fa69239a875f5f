# openpose_ros: the conventional interface (see README).
#   make setup  the environment (.venv as a ROS 2 Jazzy prefix, messages built) -> env.sh
#   make demo   the main job: video source + pose node on the real ROS graph
#   make test   the test suite
#   make bench  every benchmark under bench/ (lines "BENCH <name> <value> goal ...")
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eo pipefail -c
SHARED ?= $(abspath ../shared)
DEMO_INPUT ?= $(SHARED)/data/video/openpose_video.avi
DEMO_OUTPUT ?= demo_output
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

setup:
	bash scripts/setup_env.sh

# The lightweight model (Apache-2.0) comes from the models directory, else from ../shared
# (linked, never copied into the repository), else it is downloaded by the demo.
demo: setup
	source env.sh
	models="$${OPENPOSE_ROS_MODELS:-$$HOME/.cache/openpose_ros/models}"
	ir="$$models/intel/human-pose-estimation-0001/FP16-INT8"
	src="$(SHARED)/data/models/intel_human_pose_estimation_0001_FP16-INT8"
	if [ ! -e "$$ir/human-pose-estimation-0001.xml" ] && [ -d "$$src" ]; then
	  mkdir -p "$$ir" && ln -sf "$$src"/* "$$ir/"
	fi
	OPENPOSE_ROS_MODELS="$$models" python -m openpose_ros.ros.demo \
	  --input "$(DEMO_INPUT)" --output "$(DEMO_OUTPUT)" $(DEMO_ARGS)

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
