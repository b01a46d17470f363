package index

import (
	"net/netip"

	"github.com/multimeter-fw/multimeter/services/decode"
)

func parseAddr(s string) (decode.Addr, error) {
	a, err := netip.ParseAddr(s)
	return decode.AddrFromNetip(a), err
}
