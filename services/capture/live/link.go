package live

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// linkState is what sysfs says about an interface.
type linkState struct {
	up        bool
	speedMbps int // 0 when unknown
}

// readLink reads operstate, carrier and speed of iface under sysfsRoot
// (normally /sys). A missing interface or unreadable file reads as down
// and unknown speed: the port exists in the configuration, not on the box.
func readLink(sysfsRoot, iface string) linkState {
	dir := filepath.Join(sysfsRoot, "class", "net", iface)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	var st linkState
	// Drivers without operstate support report "unknown" while the link
	// works; carrier is then the only signal.
	switch read("operstate") {
	case "up", "unknown":
		st.up = read("carrier") == "1"
	}
	// speed reads -1 or fails with EINVAL when the link is down or the
	// driver does not know.
	if n, err := strconv.Atoi(read("speed")); err == nil && n > 0 && st.up {
		st.speedMbps = n
	}
	return st
}
