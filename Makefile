# Multimeter firmware. `make run` boots the appliance under QEMU,
# `make test` runs every test (unit and QEMU), `make bench` the benchmarks.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: all test unit-test race-test vet deps build kernel image run stop vm-test bench-image

# The image `make run` and `make image` build; the QEMU tests use debug
# (they drive its serial shell) and production (its console menu).
# PROFILE=production has no shell.
PROFILE ?= debug
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

all: build

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES := qemu-system-x86 ovmf systemd-boot-efi swtpm cryptsetup-bin e2fsprogs \
	dosfstools mtools tshark tcpdump tcpreplay libndpi-bin openssh-server influxdb \
	iproute2 jq curl binutils argon2 ethtool kmod fdisk chromium gcc libc6-dev

deps:
	@if ! dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES); \
	fi
	$(GO) mod download

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# Unit tests; the QEMU tests (images/vmtest) run in vm-test, after the
# image is built.
unit-test:
	$(GO) test $$($(GO) list ./... | grep -v /images/vmtest)

# The packages whose goroutines share state (the engine and its store, the
# websocket hub, capture, ring buffer, extraction, the daemon end to end)
# again under the race detector, which needs cgo (gcc).
RACE_PACKAGES := ./services/engine/ ./services/stats/ ./services/ws/ ./services/statsapi/ \
	./services/capture/... ./services/ringbuf/... ./services/extract/ ./services/replay/ \
	./services/multimeterd/...
race-test:
	CGO_ENABLED=1 $(GO) test -race $(RACE_PACKAGES)

# The pinned Debian kernel package (apt-get download into .cache/kernel).
kernel:
	$(GO) run ./tools/cmd/mkimage -fetch-kernel

# images/out/$(PROFILE)/: vmlinuz, initramfs, slot UKI, disk.img, kernel-version.
image:
	$(GO) run ./tools/cmd/mkimage -profile $(PROFILE) -version $(VERSION)

# Boot the factory disk image (OVMF + systemd-boot) with traffic on the
# monitor port; UI on https://localhost:8443. Ctrl-C or `make stop` ends it.
run: deps image
	$(GO) run ./tools/cmd/runvm -profile $(PROFILE)

stop:
	$(GO) run ./tools/cmd/runvm -stop

vm-test:
	$(GO) test -count=1 -timeout 30m ./images/vmtest/

test: deps vet kernel unit-test race-test
	$(MAKE) image PROFILE=debug
	$(MAKE) image PROFILE=production
	$(MAKE) vm-test

# Image size, build time and boot-to-API time of the production image.
bench-image: deps
	$(GO) run ./tools/cmd/benchimage -version $(VERSION)

# Every fuzz target for FUZZTIME (default 60s) each; findings land in
# the package's testdata/fuzz/.
.PHONY: fuzz
fuzz:
	./tools/fuzz.sh

# Benchmarks: every figure printed beside the peers' figures from the same run.
.PHONY: bench bench-analysis bench-api bench-live bench-ringbuf
bench: bench-analysis bench-api bench-live bench-ringbuf

# Offline analysis next to tshark and ndpiReader on a generated 2,000,000
# packet mix, memory per connection and IP, store query latencies.
bench-analysis:
	$(GO) run ./tools/cmd/bench

# The statistics API over a store of 1,000,000 IPs and 2,000,000
# connections, then its latency on loopback while the analyzer runs at
# full speed, beside the analyzer's rate without API load.
bench-api:
	$(GO) test -run XXX -bench . -benchtime 20x -benchmem ./services/statsapi
	$(GO) run ./tools/cmd/apibench

# Live capture over a veth pair in a network namespace at tcpreplay's top
# speed, beside tcpdump on the same veth (needs root): capture alone, then
# through the whole analysis engine.
bench-live:
	$(GO) run ./tools/cmd/livebench -mode sink
	$(GO) run ./tools/cmd/livebench -mode sink -analyze
	$(GO) run ./tools/cmd/livebench -mode bridge
	$(GO) run ./tools/cmd/livebench -mode bridge -analyze

# Ring buffer: write rate next to dd and tcpdump, index size, extraction
# from a 20 GB buffer with a cold page cache next to tcpdump (needs root),
# and the hot-path micro-benchmarks.
bench-ringbuf:
	$(GO) test -run XXX -bench . -benchmem ./services/filter ./services/ringbuf/... ./services/extract
	$(GO) run ./tools/cmd/ringbench $(RINGBENCH_FLAGS)
