// Package version reports the firmware version baked in at build time.
//
// The image build sets Version with
//
//	-ldflags "-X github.com/multimeter-fw/multimeter/services/version.Version=1.2.3"
//
// A plain `go build` reports "dev".
package version

// Version is the firmware version; it is written only by the linker.
var Version = "dev"

// Product is the product name shown on the console banner and in the API.
const Product = "Multimeter"
