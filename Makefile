# threader.guard: build the Go modules, package the collection, test, demo.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

VERSION   := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL   := dist/threader-guard-$(VERSION).tar.gz
MODULES   := $(notdir $(wildcard modules/*))
GOBUILD   := CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid='
GOSOURCES := $(shell find internal modules -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum

.PHONY: all deps build collection install test unit integration lint demo bench clean

all: collection

deps:
	scripts/install-deps.sh test

# Module binaries for the targets (linux/amd64) go into plugins/modules;
# the CLI tools for this build machine go into bin/.
build: $(addprefix plugins/modules/,$(MODULES)) $(addprefix bin/,$(MODULES))

$(addprefix plugins/modules/,$(MODULES)): plugins/modules/%: $(GOSOURCES)
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o $@ ./modules/$*

$(addprefix bin/,$(MODULES)): bin/%: $(GOSOURCES)
	$(GOBUILD) -o $@ ./modules/$*

collection: $(TARBALL)

$(TARBALL): build galaxy.yml meta/runtime.yml $(shell find plugins playbooks roles meta docs files -type f -not -path 'plugins/modules/*' 2>/dev/null) $(wildcard plugins/modules/*.yml)
	rm -rf dist && mkdir -p dist
	ansible-galaxy collection build --output-path dist --force .

# Installs the built collection for the current user (~/.ansible/collections).
install: collection
	ansible-galaxy collection install --force $(TARBALL)

# All tests: Go unit tests, integration tests that run real ansible-playbook
# against the built collection, real Prometheus/VictoriaMetrics/etcd/sshd
# started by the tests, and the linters (as Go tests in tests/lint).
test: deps collection
	test -z "$$(gofmt -l internal modules tests bench 2>/dev/null)" || { gofmt -l internal modules tests bench; echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	THREADER_GUARD_TARBALL=$(CURDIR)/$(TARBALL) go test -count=1 -timeout 40m ./...

unit:
	go test -count=1 ./internal/...

demo:
	scripts/install-deps.sh demo
	$(MAKE) collection
	demo/run.sh

bench: deps collection
	bench/run.sh

clean:
	rm -rf bin dist $(addprefix plugins/modules/,$(MODULES))
