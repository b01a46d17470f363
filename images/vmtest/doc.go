// Package vmtest boots the built appliance image under QEMU and checks it
// from the outside: the serial console and the HTTPS API. Its tests need
// qemu-system-x86_64 and the debug image in images/out/debug (make test
// builds it first); without them they skip, except under CI=true, where
// they fail.
//
// The tests run one VM at a time, each on its own copy of the factory
// disk image.
package vmtest
