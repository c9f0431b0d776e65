# driftloop — the two commands of the README's quick start, and a few more.
#   make demo   set up (a virtualenv in .venv) and run the main job on the embedded Kafka + S3
#   make test   set up and run the whole test suite (what CI runs; also runs `make engines` and `make kafka`)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: install sandbox engines kafka demo test test-fast bench compile lint clean cluster cluster-build cluster-images cluster-down cluster-test e2e

# Argo's own validators (`argo lint --offline`, `argo-events lint`), built from the Go module proxy into .bin/
# (git-ignored); the versions are pinned by tests/engines/*/go.mod + go.sum. Cold: ~10 min each on 2
# cores; then Go's build cache makes a rebuild take seconds, and make skips it while the pins are unchanged.
GO      ?= go
ENGINES  = .bin/argo .bin/argo-events .bin/argo-events.schema.json

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed sandbox

# The local executor runs each pod in its own mount namespace with bubblewrap (`bwrap`, Debian's
# `bubblewrap`): installed with apt-get when missing and run as root, else the command to run is printed.
# Then a trivial namespace is made, as driftloop does before the first pod (user namespaces may be off).
sandbox:
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing bubblewrap (apt-get): the local executor isolates each pod with it"; \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else \
	    echo "error: bubblewrap is not installed — the local executor isolates each pod with it: run 'sudo apt-get install -y bubblewrap' (or your system's package), then make again"; \
	    exit 1; \
	  fi; \
	fi
	@bwrap --unshare-user-try --ro-bind / / --dev /dev --proc /proc true || { echo "error: bwrap cannot make a mount namespace here — allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root"; exit 1; }

# Apache Kafka's jars (the second broker of the tests, and `kafka.engine: apache`), copied from Maven Central
# into .bin/kafka/libs (git-ignored); the version is pinned by tests/engines/kafka/pom.xml. Needs Java 17+ and
# Maven; cold ~1 min, then skipped while the pom is unchanged.
MVN     ?= mvn
KAFKA    = .bin/kafka/.installed

kafka: $(KAFKA)

$(KAFKA): tests/engines/kafka/pom.xml
	@command -v java >/dev/null || { echo "error: java is not installed — Apache Kafka needs a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v $(MVN) >/dev/null || { echo "error: mvn is not installed — it fetches Apache Kafka's jars (e.g. apt-get install maven)"; exit 1; }
	@echo "installing Apache Kafka $$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' $<) (jars from Maven Central) into .bin/kafka/libs"
	rm -rf .bin/kafka/libs
	$(MVN) -q -B -f $< dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/.bin/kafka/libs
	touch $@

engines: $(ENGINES)

.bin/argo: tests/engines/argo-workflows/go.mod tests/engines/argo-workflows/go.sum
	@command -v $(GO) >/dev/null || { echo "error: go is not installed — Argo's linters are built with it (https://go.dev/doc/install)"; exit 1; }
	@echo "building the Argo Workflows CLI $$(cd tests/engines/argo-workflows && $(GO) list -m -f '{{.Version}}' github.com/argoproj/argo-workflows/v3) into $@ (cold: minutes)"
	cd tests/engines/argo-workflows && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$@ github.com/argoproj/argo-workflows/v3/cmd/argo

.bin/argo-events: tests/engines/argo-events/go.mod tests/engines/argo-events/go.sum
	@command -v $(GO) >/dev/null || { echo "error: go is not installed — Argo's linters are built with it (https://go.dev/doc/install)"; exit 1; }
	@echo "building the Argo Events CLI $$(cd tests/engines/argo-events && $(GO) list -m -f '{{.Version}}' github.com/argoproj/argo-events) into $@ (cold: minutes)"
	cd tests/engines/argo-events && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$@ github.com/argoproj/argo-events/cmd

# Argo Events' own JSON schema, for the EventBus its linter skips (from the same pinned module)
.bin/argo-events.schema.json: tests/engines/argo-events/go.sum
	@mkdir -p .bin
	cp "$$(cd tests/engines/argo-events && $(GO) list -m -f '{{.Dir}}' github.com/argoproj/argo-events)/api/jsonschema/schema.json" $@

demo: install
	$(BIN)/driftloop demo

test: install engines kafka
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/driftloop compile --check
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit

bench: install
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

compile: install
	$(BIN)/driftloop compile

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# A real single-node Kubernetes (opt-in; `make test` neither runs nor needs it): tests/cluster/README.md.
# Binaries (Kubernetes v1.34, Argo, CoreDNS) build from the Go module proxy and images from Debian's packages
# + PyPI into ~/.cache/driftloop-cluster; the cluster's state lives in /var/lib and /run/driftloop-cluster.
cluster-build:
	tests/cluster/build.sh

cluster-images: cluster-build install
	PYTHON=$(CURDIR)/$(BIN)/python tests/cluster/images.sh

cluster: cluster-images
	$(BIN)/python tests/cluster/cluster.py up

cluster-down:
	$(PYTHON) tests/cluster/cluster.py down

# driftloop on the real engines of `make cluster` (opt-in; not part of `make test`): tests/cluster/e2e.py
e2e: install
	$(BIN)/python tests/cluster/e2e.py

# checks that cluster-down left nothing behind (run after `make cluster-down`)
cluster-test: install
	DRIFTLOOP_CLUSTER=1 $(BIN)/python -m pytest tests/cluster -q

clean:
	rm -rf $(VENV) .bin .driftloop .pytest_cache .ruff_cache .mypy_cache
