# palisade.firewall — developer entry points. `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
LINK := $(COLLECTIONS)/ansible_collections/palisade/firewall

export PYTHONPATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1

.PHONY: system-packages setup test unit fuzz kernel docs package playbooks browser matrix host-python lint sanity demo bench clean lab-up lab-down labtest integration molecule differential differential-sweep

## system packages (apt, as root) when a tool is missing: tests/setup/system_packages.sh
system-packages:
	bash tests/setup/system_packages.sh

## venv: the pinned controller tools (tests/requirements.txt)
$(BIN)/.installed: tests/requirements.txt | system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r tests/requirements.txt
	touch $@

## the collection, importable as ansible_collections.palisade.firewall
$(LINK):
	mkdir -p $(dir $(LINK))
	ln -sfn $(CURDIR) $(LINK)

setup: system-packages $(BIN)/.installed $(LINK)

## everything CI checks
test: setup unit fuzz docs package playbooks browser matrix host-python lint sanity kernel labtest integration differential molecule

unit: setup
	$(BIN)/python -m pytest tests/unit tests/setup

## generated and mutated inventories through the whole engine (fixed seed + one random seed, printed)
fuzz: setup
	$(BIN)/python -m pytest tests/fuzz

## the kernel's own tools accept every golden file (root: throwaway network namespaces)
kernel: setup
	$(BIN)/python -m pytest tests/kernel

## every plugin renders with ansible-doc
docs: setup
	bash tests/docs/check_ansible_doc.sh $(BIN)

## the built tarball installed into an empty collections path: contents, docs, playbooks, changelog, EE
package: setup
	bash tests/package/check.sh $(BIN)

## playbooks over inventories, no host contacted
playbooks: setup
	$(BIN)/python -m pytest tests/playbooks

## the reachability page in headless Chromium: its script runs, the cells hold the services, a screenshot (.build/browser/)
browser: setup
	$(BIN)/python -m pytest -s tests/browser

## the other supported ansible-core versions (the main venv is 2.19): one venv each, .venv-X.Y, with
## tests/requirements-X.Y.txt; the controller-side tests (tests/unit, tests/playbooks) on each, and
## ansible-doc on the lowest. `make matrix MATRIX=2.16` runs one. 2.20 and later need Python >= 3.12.
MATRIX ?= 2.16 2.17 2.18 2.21
MATRIX_LOWEST := 2.16
PYTHON312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
matrix_python = $(if $(filter 2.20 2.21,$(1)),$(PYTHON312),$(PYTHON))

.venv-%/.installed: tests/requirements-%.txt | system-packages
	@python='$(call matrix_python,$*)'; \
	  if [ -z "$$python" ] || ! "$$python" -c 'import venv' 2>/dev/null; then \
	    echo "ansible-core $* needs a Python interpreter for its controller (PYTHON312 for 2.20 and later): '$$python' is missing" >&2; exit 1; fi; \
	  rm -rf .venv-$* && "$$python" -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -r tests/requirements-$*.txt
	touch $@

matrix: $(LINK) $(foreach version,$(MATRIX),.venv-$(version)/.installed)
	@set -e; for version in $(MATRIX); do \
	  bin=.venv-$$version/bin; \
	  echo "== ansible-core $$version: $$($$bin/ansible-playbook --version | sed -n 1p), $$($$bin/python --version)"; \
	  $$bin/python -c 'import sys; from ansible.release import __version__ as v; sys.exit(0 if v.startswith(sys.argv[1] + ".") else "this venv has ansible-core " + v)' $$version; \
	  $$bin/python -m pytest tests/unit tests/playbooks; \
	  if [ $$version = $(MATRIX_LOWEST) ]; then bash tests/docs/check_ansible_doc.sh $$bin; fi; \
	done

## the host side on the lowest supported host Python: every file of plugins/module_utils and
## plugins/modules byte-compiled and imported, laid out as Ansible ships it with the lowest
## ansible-core's module_utils; then the plan compared with this Python's (test_host_python.py)
HOST_PYTHON ?= /root/.pyenv/versions/3.6.15/bin/python
host-python: setup .venv-$(MATRIX_LOWEST)/.installed
	@if [ ! -x "$(HOST_PYTHON)" ]; then echo "host-python: the lowest supported host Python HOST_PYTHON=$(HOST_PYTHON) is missing" >&2; exit 1; fi
	@echo "== host side on $$($(HOST_PYTHON) --version 2>&1) ($(HOST_PYTHON)), module_utils of ansible-core $(MATRIX_LOWEST)"
	$(HOST_PYTHON) tests/host_python/check_host_python.py $(CURDIR) "$$(.venv-$(MATRIX_LOWEST)/bin/python -c 'import os, ansible.module_utils as m; print(os.path.dirname(m.__file__))')"
	PALISADE_HOST_PYTHON=$(HOST_PYTHON) $(BIN)/python -m pytest tests/unit/plugins/module_utils/test_host_python.py

## ansible-lint, production profile (its own HOME: it installs the collection there)
lint: setup
	mkdir -p .build/home
	HOME=$(CURDIR)/.build/home PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint

## ansible-test sanity with the pinned ansible-core, no host but the package index needed
sanity: setup
	bash tests/sanity/run.sh $(BIN)

## the main job: a 3-host lab, examples/site.yml applied to it, real traffic checked
demo: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python lab/demo.py

bench: setup
	$(BIN)/python bench/fleet_index.py
	$(BIN)/python bench/compile.py
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/apply.py

## lab of real hosts (root; lab/README.md): `make lab-up [LAB_NAME=pal LAB_HOSTS=3 LAB_ARGS=--replace]`
LAB_NAME ?= pal
LAB_HOSTS ?= 3
LAB_ARGS ?=

lab-up:
	$(PYTHON) lab/palisade_lab.py up --name $(LAB_NAME) --hosts $(LAB_HOSTS) $(LAB_ARGS)

lab-down:
	$(PYTHON) lab/palisade_lab.py down --name $(LAB_NAME)
	rm -f examples/inventory/90-lab.yml

## the lab itself: SSH, isolation, traffic, dead end, teardown (root; its own labs plt and plt2)
labtest: setup
	$(BIN)/python -m pytest tests/lab

## molecule: default driver on lab hosts; converge, idempotence, testinfra verify with real traffic
molecule: setup
	PATH=$(CURDIR)/$(BIN):$$PATH NO_COLOR=1 ANSIBLE_NOCOLOR=1 $(BIN)/molecule test

## site.yml on real lab hosts over SSH: traffic, check mode, idempotence, foreign state
integration: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest tests/integration

## generated fleets applied to lab hosts; every probe's kernel answer against explain's (fixed seeds + one random, printed)
differential: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -s tests/differential

## the same over many more fleets, on demand: make differential-sweep SWEEP=200
SWEEP ?= 100
differential-sweep: setup
	PATH=$(CURDIR)/$(BIN):$$PATH PALISADE_DIFFERENTIAL_SEEDS=$$(seq -s, 1001 $$((1000 + $(SWEEP)))) $(BIN)/python -m pytest -q -s tests/differential

clean:
	rm -rf .build .pytest_cache
