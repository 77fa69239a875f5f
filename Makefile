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

demo: setup
	source env.sh
	python -m openpose_ros.ros.demo --input "$(DEMO_INPUT)" --output "$(DEMO_OUTPUT)" $(DEMO_ARGS)

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
