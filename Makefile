# Drover: `make demo` brings up a local management plane and fleet; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: all venv tools crds test unit e2e demo demo-down bench bench-scale kill-storm lint browser clean image screenshots

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Real etcd, Kubernetes, Cluster API, helm and kwok, built from Go modules (cached by version).
tools: venv
	$(PY) -m devtools.toolchain

crds: venv
	$(PY) -m mgmt.api.generate crds

# Headless Chromium for the HTML report test (Debian's package).
browser:
	@command -v chromium >/dev/null || { echo "installing chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the HTML screenshot test will fail"; }

# Lint first: it takes seconds and fails before the long e2e tier starts.
test: lint tools browser
	$(PY) -m pytest -q tests e2e

unit: venv
	$(PY) -m pytest -q tests

e2e: tools browser
	$(PY) -m pytest -q e2e

demo: tools
	$(VENV)/bin/drover demo

demo-down: venv
	$(VENV)/bin/drover demo --down

bench: tools
	$(PY) -m e2e.bench

# Drover at N simulated member clusters beside ClusterResourceSet and a bare apply loop, then on
# REAL real local clusters (`make bench-scale N=100` for a quick look).
N ?= 1000
REAL ?= 10
bench-scale: tools
	$(PY) -m e2e.bench_scale --members $(N) --real $(REAL)

# PNGs of the dashboard (overview, fleet page, member page) of a demo-like Fleet of three simulated
# local clusters on a management plane of its own (e2e/test_dashboard.py), written to DIR.
screenshots: tools browser
	@test -n "$(DIR)" || { echo "usage: make screenshots DIR=folder"; exit 2; }
	DROVER_SCREENSHOTS="$(abspath $(DIR))" $(PY) -m pytest -q -s -p no:cacheprovider e2e/test_dashboard.py -k test_screenshots

# The controller SIGKILLed at 20 random moments of a rollout over ten simulated members, alone
# (make test runs the same storm with 5 kills); prints kills, convergence time, members mid-update.
kill-storm: tools
	DROVER_KILLS=20 $(PY) -m pytest -q -s -m killstorm e2e/test_faults.py

lint: venv
	$(VENV)/bin/ruff check mgmt providers devtools tests e2e image setup.py

# The controller image as an OCI layout and archive in dist/image, built with no container engine
# (as root, with Debian's mmdebstrap and umoci: `apt-get install mmdebstrap umoci`), then tested:
# unpacked, and drover run inside it. About 5 minutes; not part of `make test`.
image: tools
	$(PY) image/build.py dist/image
	$(PY) -m pytest -q -p no:cacheprovider image/test_image.py

clean:
	rm -rf $(VENV) .pytest_cache
