# Multimeter firmware. `make run` boots the appliance under QEMU,
# `make test` runs every test (unit and QEMU), `make bench` the benchmarks.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: all test unit-test vet deps build

all: build

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES := qemu-system-x86 ovmf systemd-boot-efi swtpm cryptsetup-bin e2fsprogs \
	dosfstools mtools tshark tcpdump tcpreplay libndpi-bin openssh-server influxdb \
	iproute2 jq curl binutils argon2 ethtool

deps:
	@if ! dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES); \
	fi
	$(GO) mod download

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

unit-test:
	$(GO) test ./...

test: vet unit-test

# Benchmarks: every figure printed beside the peers' figures from the same run.
.PHONY: bench bench-live bench-ringbuf
bench: bench-live bench-ringbuf

# Live capture over a veth pair in a network namespace at tcpreplay's top
# speed, beside tcpdump on the same veth (needs root).
bench-live:
	$(GO) run ./tools/cmd/livebench -mode sink
	$(GO) run ./tools/cmd/livebench -mode bridge

# Ring buffer: write rate next to dd and tcpdump, index size, extraction
# from a 20 GB buffer with a cold page cache next to tcpdump (needs root),
# and the hot-path micro-benchmarks.
bench-ringbuf:
	$(GO) test -run XXX -bench . -benchmem ./services/filter ./services/ringbuf/... ./services/extract
	$(GO) run ./tools/cmd/ringbench $(RINGBENCH_FLAGS)
