# Multimeter firmware. `make run` boots the appliance under QEMU,
# `make test` runs every test (unit and QEMU), `make bench` the benchmarks.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: all test unit-test vet deps build bench

all: build

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES := qemu-system-x86 ovmf systemd-boot-efi swtpm cryptsetup-bin e2fsprogs \
	dosfstools mtools tshark tcpdump tcpreplay libndpi-bin openssh-server influxdb \
	iproute2 jq curl binutils

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

# Offline analysis next to tshark and ndpiReader on a generated 2,000,000
# packet mix, memory per connection and IP, store query latencies.
bench:
	$(GO) run ./tools/cmd/bench
