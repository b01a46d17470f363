// Package powerbutton reports presses of the ACPI power button (under
// QEMU: the monitor's system_powerdown) so the init can shut down cleanly.
// The kernel's button driver presents the button as an input device named
// "Power Button"; evdev gives it a /dev/input/eventN node.
//
//	err := powerbutton.Watch(ctx, "/sys", "/dev", func() { shutdown() })
package powerbutton

import (
	"encoding/binary"
)

// Linux input event constants (linux/input-event-codes.h).
const (
	evKey    = 0x01
	keyPower = 116
	// eventSize is sizeof(struct input_event) on 64-bit Linux: a
	// timeval (16 bytes), type and code (2 bytes each), value (4 bytes).
	eventSize = 24
)

// Pressed reports whether buf, a whole number of input events, holds a
// press of KEY_POWER. Trailing bytes of a partial event are ignored.
func Pressed(buf []byte) bool {
	for len(buf) >= eventSize {
		ev := buf[:eventSize]
		buf = buf[eventSize:]
		typ := binary.LittleEndian.Uint16(ev[16:])
		code := binary.LittleEndian.Uint16(ev[18:])
		value := int32(binary.LittleEndian.Uint32(ev[20:]))
		if typ == evKey && code == keyPower && value == 1 {
			return true
		}
	}
	return false
}
