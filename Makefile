# threader.guard: build the Go modules, package the collection, test, demo.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

VERSION   := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL   := dist/threader-guard-$(VERSION).tar.gz
MODULES   := $(notdir $(wildcard modules/*))
GOBUILD   := CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid='
GOSOURCES := $(shell find internal modules cmd -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
# Target architectures: one static multi-call binary each (cmd/threader-guard),
# shipped once in the collection; the action plugins pick one per target.
ARCHES    := amd64 arm64
BINARIES  := $(foreach a,$(ARCHES),files/bin/threader-guard_linux_$(a))
# Every documented module (plugins/modules/NAME.yml) gets a stub
# plugins/modules/NAME, so ansible-doc and async find it.
STUBS     := $(basename $(wildcard plugins/modules/*.yml))

.PHONY: all deps venvs build collection install test test-matrix unit fuzz lint molecule demo bench clean

all: collection

deps:
	scripts/install-deps.sh test

# The ansible-core support matrix besides the system's (Debian 12's 2.14):
# the newest release of each line still supported upstream that installs on
# the system's Python 3.11 (2.20 and later need Python 3.12). Each goes into
# its own virtual environment, build/ansible-LINE, from PyPI, pinned in
# tests/requirements/ansible-core-LINE.txt; made again only when that changes.
ANSIBLE_LINES := 2.18 2.19
export PYTHON ?= /usr/bin/python3

# Each virtual environment is (re)made by scripts/venv.sh only when its
# requirements file's content changed; molecule (tests/molecule_test.go) and
# the collection tools (antsibull-changelog: tests/changelog_test.go) and
# ansible-test (tests/ansible_test_test.go) too.
venvs:
	for line in $(ANSIBLE_LINES); do scripts/venv.sh build/ansible-$$line tests/requirements/ansible-core-$$line.txt || exit 1; done
	scripts/venv.sh build/molecule tests/requirements/molecule.txt
	scripts/venv.sh build/tools tests/requirements/tools.txt
	scripts/venv.sh build/ansible-test tests/requirements/ansible-test.txt
	scripts/venv.sh build/galaxy-importer tests/requirements/galaxy-importer.txt

# The multi-call binary for each target architecture and its SHA256SUMS go
# into files/bin (the action plugins send them to targets, once per host and
# version); each module gets a stub in plugins/modules; the CLI tools for
# this build machine go into bin/.
build: $(BINARIES) files/bin/SHA256SUMS $(STUBS) $(addprefix bin/,$(MODULES)) bin/threader-guard

files/bin/threader-guard_linux_%: $(GOSOURCES)
	GOOS=linux GOARCH=$* $(GOBUILD) -o $@ ./cmd/threader-guard

files/bin/SHA256SUMS: $(BINARIES)
	cd files/bin && sha256sum $(notdir $(BINARIES)) > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS

$(STUBS): plugins/modules/%: cmd/threader-guard/module-stub.sh
	sed 's/@NAME@/$*/g' $< > $@.tmp && chmod 0755 $@.tmp && mv $@.tmp $@

$(addprefix bin/,$(MODULES)): bin/%: $(GOSOURCES)
	$(GOBUILD) -o $@ ./modules/$*

bin/threader-guard: $(GOSOURCES)
	$(GOBUILD) -o $@ ./cmd/threader-guard

collection: $(TARBALL)

$(TARBALL): build galaxy.yml meta/runtime.yml $(shell find plugins playbooks roles meta docs files -type f -not -path 'plugins/modules/*' 2>/dev/null) $(wildcard plugins/modules/*.yml)
	rm -rf dist && mkdir -p dist
	ansible-galaxy collection build --output-path dist --force .

# Installs the built collection for the current user (~/.ansible/collections).
install: collection
	ansible-galaxy collection install --force $(TARBALL)

# The race detector needs cgo (gcc); the shipped binaries do not (GOBUILD).
GOTEST    := CGO_ENABLED=1 go test -race -count=1
# Time budget of each fuzz target under `make fuzz`.
FUZZTIME  ?= 30s

# All tests: Go unit tests, integration tests that run real ansible-playbook
# against the built collection (the bad-input battery among them), real
# Prometheus/VictoriaMetrics/etcd/sshd started by the tests, the fuzz targets'
# seed corpora (testdata/fuzz, replayed as tests) and the linters (as Go tests
# in tests/lint), all under the race detector; at the same time, the
# integration tests of every ansible-core of the matrix (scripts/test-matrix.sh).
test: deps collection venvs
	test -z "$$(gofmt -l internal modules cmd tests bench 2>/dev/null)" || { gofmt -l internal modules cmd tests bench; echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	scripts/test-matrix.sh $(TARBALL) $(ANSIBLE_LINES) & matrix=$$!; \
	THREADER_GUARD_TARBALL=$(CURDIR)/$(TARBALL) $(GOTEST) -timeout 90m ./...; main=$$?; \
	wait $$matrix; other=$$?; \
	[ $$main -eq 0 ] && [ $$other -eq 0 ]

# The ansible-core matrix alone (the system's ansible-core is make test's).
test-matrix: collection venvs
	scripts/test-matrix.sh $(TARBALL) $(ANSIBLE_LINES)

unit:
	$(GOTEST) ./internal/...

# Every fuzz target of the repository (found with go test -list), FUZZTIME
# each: make fuzz FUZZTIME=2m
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

lint: collection
	THREADER_GUARD_TARBALL=$(CURDIR)/$(TARBALL) go test -count=1 -run 'TestAnsibleLint|TestYamllint|TestShellcheck' ./tests/

molecule: collection venvs
	THREADER_GUARD_TARBALL=$(CURDIR)/$(TARBALL) go test -count=1 -run 'TestMolecule' ./tests/

demo:
	scripts/install-deps.sh demo
	$(MAKE) collection
	demo/run.sh

# The benchmark suite (not a test; tests/bench_smoke_test.go runs a short
# one): starts its own sshd and Prometheus, prints medians and ratios.
bench: deps collection
	bench/run.sh

clean:
	rm -rf bin dist files/bin $(STUBS) build
