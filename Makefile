# optee-tls: make demo | make check | make bench
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
VENV := $(TOP)/.venv
PYTEST_ARGS ?=

all: sim engine

deps:
	@$(TOP)/scripts/install-deps.sh

sim:
	$(MAKE) -C sim BUILD=$(BUILD)

engine: sim
	$(MAKE) -C engine BUILD=$(BUILD)

check: deps
	$(MAKE) all
	$(VENV)/bin/python -m pytest -ra $(PYTEST_ARGS) tests

demo: deps
	$(MAKE) all
	$(TOP)/scripts/demo.sh

bench: deps
	$(MAKE) all
	$(VENV)/bin/python $(TOP)/scripts/bench.py

clean:
	rm -rf $(BUILD)

.PHONY: all deps sim engine check demo bench clean
