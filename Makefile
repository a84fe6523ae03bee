# onair — see README.md. `make run` and `make test` work on a fresh Debian 12 machine (as root or with sudo).
SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
ONAIR := .build/debug/onair
DEV_CONFIG := etc/onair/onair.dev.yaml
RUN_CONFIG := .run/onair.dev.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# System packages: build (libsqlite3-dev; zlib1g-dev for gzipped playlists), run (ffmpeg decodes
# thumbnails), real publishers and players for the tests.
BUILD_PACKAGES := libsqlite3-dev libsystemd-dev zlib1g-dev pkg-config openssl
RUN_PACKAGES := ffmpeg
TEST_PACKAGES := ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-venv chromium prometheus \
	nginx libnginx-mod-rtmp
# Building the .deb (debian/control's Build-Depends plus lintian) and testing it (systemd-analyze,
# setpriv, strace for the sandbox checks; debootstrap and systemd-nspawn boot a Debian 12 container
# with a real systemd for test_booted_systemd.py).
DEB_PACKAGES := debhelper dpkg-dev fakeroot lintian libsystemd-dev zlib1g-dev
PACKAGE_TEST_PACKAGES := systemd util-linux procps strace openssl ca-certificates systemd-container debootstrap

# The package version comes from packaging/debian/changelog (first line: onair (VERSION) ...).
DEB_VERSION := ${shell sed -n '1s/^onair (\([^)]*\)).*/\1/p' packaging/debian/changelog}
DEB := dist/onair_$(DEB_VERSION)_amd64.deb
DEB_BUILD_DIR := dist/build

.PHONY: all build run test unit-test e2e-test e2e-run package-test package-run deb deps test-deps clean bench fuzz \
	fuzz-build fuzz-run arrows

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
	@[ -x $(VENV)/bin/pip ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r Tests/EndToEndTests/requirements.txt

build: deps
	$(SWIFT) build

# Serve the development config (etc/onair/onair.dev.yaml plus a fresh API token, kept in .run/).
run: build
	$(call apt_install,$(RUN_PACKAGES))
	@mkdir -p .run/tls
	@[ -f .run/tls/dev.crt ] || openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
	  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout .run/tls/dev.key -out .run/tls/dev.crt 2>/dev/null
	@[ -f $(RUN_CONFIG) ] || { cp $(DEV_CONFIG) $(RUN_CONFIG) && \
	  printf 'access_tokens:\n  - id: dev\n    secret: %s\n    permissions: [video:write, system:write]\n' "$$(openssl rand -hex 24)" >> $(RUN_CONFIG); }
	@$(ONAIR) check-config --config $(RUN_CONFIG) >/dev/null
	@id=$$($(ONAIR) streams list --config $(RUN_CONFIG) --json | $(PYTHON) -c 'import json,sys; s=json.load(sys.stdin); print(s[0]["id"] if s else "")'); \
	if [ -z "$$id" ]; then id=$$($(ONAIR) streams create --record --config $(RUN_CONFIG) --json | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["id"])'); fi; \
	json=$$($(ONAIR) streams get $$id --config $(RUN_CONFIG) --json); \
	key=$$(echo "$$json" | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["stream_key"])'); \
	pid=$$(echo "$$json" | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["playback_ids"][0]["id"])'); \
	secret=$$(sed -n 's/^    secret: //p' $(RUN_CONFIG)); \
	echo; echo "== onair dev server =="; \
	echo "API (Mux-compatible, self-signed TLS): https://127.0.0.1:8443/video/v1/live-streams"; \
	echo "  token id: dev   token secret: $$secret"; \
	echo "  curl -k -u dev:$$secret https://127.0.0.1:8443/video/v1/live-streams"; \
	echo "live stream $$id"; \
	echo "push: rtmp://127.0.0.1:1935/app/$$key   (OBS: server rtmp://127.0.0.1:1935/app, stream key $$key)"; \
	echo "  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine -c:v libx264 -g 60 -c:a aac -f flv rtmp://127.0.0.1:1935/app/$$key"; \
	echo "play: https://127.0.0.1:8443/$$pid.m3u8   (ffplay -tls_verify 0 ..., or /dev/shm/onair-dev/hls/$$id/index.m3u8)"; \
	echo "low latency (LL-HLS, about 2 s behind, HTTP/2 on 8443): while idle,"; \
	echo "  curl -k -u dev:$$secret -X PATCH -d '{\"latency_mode\":\"low\"}' https://127.0.0.1:8443/video/v1/live-streams/$$id"; \
	echo "thumbnails (image.mux.com's paths): https://127.0.0.1:8443/$$pid/thumbnail.jpg?width=640 (the newest picture),"; \
	echo "  .../$$pid/animated.gif?start=0&end=3, and an asset's .../<asset playback id>/storyboard.vtt: docs/images.md"; \
	echo "recordings: each broadcast becomes an asset (files in .run/recordings): after a push,"; \
	echo "  curl -k -u dev:$$secret https://127.0.0.1:8443/video/v1/assets?live_stream_id=$$id"; \
	echo "  then play https://127.0.0.1:8443/<asset playback id>.m3u8 (DVR while live, VOD after); streams made with"; \
	echo "  new_asset_settings.static_renditions [{\"resolution\":\"highest\"}] also get /<asset playback id>/highest.mp4"; \
	echo "signed playback: make a signing key, then a stream with a signed playback ID, and play it with an RS256 JWT"; \
	echo "  (sub: the playback ID, aud: v, exp, kid: the key's id) as ?token=: docs/signing.md"; \
	echo "  curl -k -u dev:$$secret -X POST https://127.0.0.1:8443/system/v1/signing-keys"; \
	echo "metrics (Prometheus, loopback only): curl http://127.0.0.1:9464/metrics"; \
	echo "webhooks: add {url, signing_secret} under webhooks: in $(RUN_CONFIG) (docs/webhooks.md), restart or kill -HUP,"; \
	echo "  then $(ONAIR) webhooks test --config $(RUN_CONFIG)"; echo
	exec $(ONAIR) serve --config $(RUN_CONFIG)

# The arrows of docs/architecture.md: a forbidden crossing between folders fails the build.
arrows:
	$(PYTHON) scripts/check_arrows.py

unit-test: deps arrows
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The end-to-end tests mostly wait on real time (ffmpeg -re, reconnect windows, timeouts): they run in
# E2E_WORKERS processes at once (pytest-xdist); each test has its own server, ports and directories.
E2E_WORKERS ?= 4
e2e-test: test-deps
	$(SWIFT) build
	$(MAKE) --no-print-directory e2e-run

# The end-to-end tests against the debug build already there (make test: without taking .build's lock).
e2e-run:
	ONAIR=$(abspath $(ONAIR)) $(VENV)/bin/pytest -q -n $(E2E_WORKERS) --durations=10 Tests/EndToEndTests

# dist/onair_VERSION_amd64.deb (and its -dbgsym): dpkg-buildpackage in a copy of packaging/debian
# under dist/build/, building with SwiftPM from this tree (release, static Swift stdlib) in its own
# folder, .build-deb (kept between runs), so that it can run beside a debug build or the tests.
DEB_SCRATCH := .build-deb
deb: deps
	$(call apt_install,$(DEB_PACKAGES))
	rm -rf $(DEB_BUILD_DIR) && mkdir -p $(DEB_BUILD_DIR)/onair-$(DEB_VERSION)
	cp -a packaging/debian $(DEB_BUILD_DIR)/onair-$(DEB_VERSION)/debian
	cd $(DEB_BUILD_DIR)/onair-$(DEB_VERSION) && \
	  ONAIR_SRC=$(CURDIR) ONAIR_SCRATCH=$(abspath $(DEB_SCRATCH)) SWIFT="$$(command -v $(SWIFT))" \
	  dpkg-buildpackage -b -us -uc
	mv $(DEB_BUILD_DIR)/*.deb dist/
	rm -rf $(DEB_BUILD_DIR)
	@ls -l dist/*.deb

# Lints, installs, runs, upgrades and purges the package on this machine (as root), and again in a
# booted Debian 12 container (systemd-nspawn): see Tests/PackageTests. Uses the debug build too, for
# the watchdog fault injection. The two files run side by side (each in its own process, its tests in
# order; the container mostly waits on real time); -rA prints each test's figures at the end.
package-test: deb test-deps
	$(call apt_install,$(PACKAGE_TEST_PACKAGES))
	$(SWIFT) build
	$(MAKE) --no-print-directory package-run

# The package tests against the .deb and the debug build already there (make test: without SwiftPM).
package-run:
	ONAIR_DEB=$(abspath $(DEB)) ONAIR_DEBUG=$(abspath $(ONAIR)) $(VENV)/bin/pytest -q -rA -n 2 --dist loadfile \
	  --durations=5 Tests/PackageTests

# Every stage above plus 30 s of fuzzing per target. scripts/test.sh runs them in an order that keeps
# both cores busy: the .deb's release build and the fuzzer's build run beside the tests at idle CPU
# priority, their logs in dist/test-logs/. (MAKE_COMMAND, not MAKE: `make -n test` only prints this.)
test: test-deps
	$(call apt_install,$(DEB_PACKAGES) $(PACKAGE_TEST_PACKAGES))
	MAKE="$(MAKE_COMMAND)" SWIFT="$(SWIFT)" scripts/test.sh

# libFuzzer (issue 6): one binary with every target (Tests/Fuzz), our modules instrumented with
# coverage and address sanitizer. It is built in .build, reusing the debug build's dependencies (they
# stay uninstrumented): only Media, Appliance and the driver are compiled again, and the next plain
# `swift build` compiles those two back. `make fuzz` runs each target for FUZZ_SECONDS (make test:
# 30 s each), FUZZ_JOBS at a time (default one per CPU), after replaying Tests/Fuzz/Regressions,
# keeping its corpus in .build/fuzz; see Tests/Fuzz/run.sh.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
FUZZER_NO_MAIN = $(shell ls $$(dirname $$(readlink -f $$(command -v $(SWIFT))))/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)

fuzz-build: deps
	ONAIR_FUZZ=1 $(SWIFT) build --product onair-fuzz -Xlinker $(FUZZER_NO_MAIN)

fuzz: fuzz-build
	$(MAKE) --no-print-directory fuzz-run

# The fuzz targets of the onair-fuzz already built.
fuzz-run:
	Tests/Fuzz/run.sh .build/debug/onair-fuzz $(FUZZ_SECONDS) .build/fuzz $(FUZZ_TARGETS)

# onair vs nginx-rtmp side by side (issue 5): see bench/run.py. Writes bench/results.md.
#   make bench                                 the full run the issue asks for (50, 100, 200 publishers x 60 s; ~10 min)
#   make bench BENCH_ARGS=--smoke              under 2 minutes
BENCH_PACKAGES := ffmpeg nginx libnginx-mod-rtmp wrk openssl python3-venv chromium
BENCH_ARGS ?=
bench: deps
	$(call apt_install,$(BENCH_PACKAGES))
	@[ -x $(VENV)/bin/pip ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	$(SWIFT) build -c release --static-swift-stdlib --product onair -Xlinker -z -Xlinker now  # the .deb's flags (make deb builds in .build-deb)
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)
	$(VENV)/bin/python bench/webhooks.py  # webhook delivery latency and CPU: bench/webhooks.md
	$(VENV)/bin/python bench/part_delivery.py  # LL-HLS part delivery delay, 1/100/1,000 blocked clients: bench/part_delivery.md
	$(VENV)/bin/python bench/player_latency.py  # hls.js and the LL client behind the camera per latency mode: bench/player_latency.md
	$(VENV)/bin/python bench/recording.py  # recording's CPU against none, a 10-minute recording into MP4: bench/recording.md
	$(VENV)/bin/python bench/signed.py  # signed playback's requests per second against public: bench/signed.md
	$(VENV)/bin/python bench/thumbnails.py  # thumbnails: uncached time to first byte and CPU against bare ffmpeg, cached against a segment: bench/thumbnails.md
	$(VENV)/bin/python bench/simulcast.py  # simulcast: CPU of one stream with 0, 1, 3 targets against the ingest, the delay a target adds, beside nginx-rtmp's push: bench/simulcast.md

clean:
	rm -rf .build $(DEB_SCRATCH) .build-fuzz .run $(VENV) dist
