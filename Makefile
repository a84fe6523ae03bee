# onair — see README.md. `make run` and `make test` work on a fresh Debian 12 machine (as root or with sudo).
SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
ONAIR := .build/debug/onair
DEV_CONFIG := etc/onair/onair.dev.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# System packages: build (libsqlite3-dev), real publishers and players for the tests.
BUILD_PACKAGES := libsqlite3-dev pkg-config
TEST_PACKAGES := ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-venv

.PHONY: all build run test unit-test e2e-test deps test-deps clean

all: build

# Installs the packages that are missing (apt-get update only when something is).
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))
	@[ -x $(VENV)/bin/pytest ] || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q -r Tests/EndToEndTests/requirements.txt; }

build: deps
	$(SWIFT) build

# Serve the development config: loopback RTMP on 1935, HLS in /dev/shm/onair-dev/hls.
run: build
	@mkdir -p .run
	@$(ONAIR) check-config --config $(DEV_CONFIG) >/dev/null
	@id=$$($(ONAIR) streams list --config $(DEV_CONFIG) --json | $(PYTHON) -c 'import json,sys; s=json.load(sys.stdin); print(s[0]["id"] if s else "")'); \
	if [ -z "$$id" ]; then id=$$($(ONAIR) streams create --config $(DEV_CONFIG) --json | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["id"])'); fi; \
	echo; echo "== onair dev server =="; $(ONAIR) streams get $$id --config $(DEV_CONFIG); \
	key=$$($(ONAIR) streams get $$id --config $(DEV_CONFIG) --json | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["stream_key"])'); \
	echo; echo "push (OBS: server rtmp://127.0.0.1:1935/app, stream key as above) or:"; \
	echo "  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -g 60 -c:a aac -f flv rtmp://127.0.0.1:1935/app/$$key"; \
	echo "play:"; echo "  ffplay /dev/shm/onair-dev/hls/$$id/index.m3u8"; echo
	exec $(ONAIR) serve --config $(DEV_CONFIG)

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

e2e-test: test-deps
	$(SWIFT) build
	ONAIR=$(abspath $(ONAIR)) $(VENV)/bin/pytest -q Tests/EndToEndTests

test: test-deps unit-test e2e-test

clean:
	rm -rf .build .run $(VENV)
