package watchdog

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// wdiocSetTimeout is WDIOC_SETTIMEOUT from linux/watchdog.h.
const wdiocSetTimeout = 0xc0045706

// device is a Linux watchdog character device.
type device struct {
	f *os.File
}

// openDevice opens (and so arms) the watchdog at path.
func openDevice(path string) (*device, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return &device{f: f}, nil
}

func (d *device) SetTimeout(t time.Duration) error {
	if err := unix.IoctlSetPointerInt(int(d.f.Fd()), wdiocSetTimeout, int(t/time.Second)); err != nil {
		return fmt.Errorf("WDIOC_SETTIMEOUT %v: %w", t, err)
	}
	return nil
}

func (d *device) KeepAlive() error {
	return unix.IoctlWatchdogKeepalive(int(d.f.Fd()))
}

// MagicClose writes 'V' before closing, which tells the driver the close
// is deliberate and disarms the watchdog.
func (d *device) MagicClose() error {
	if _, err := d.f.Write([]byte("V")); err != nil {
		d.f.Close()
		return err
	}
	return d.f.Close()
}
