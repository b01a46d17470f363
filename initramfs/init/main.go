// Command init is the appliance's PID 1 (see package pid1). It is not
// meant to run anywhere but as the first process of the image.
package main

import (
	"fmt"
	"os"

	"github.com/multimeter-fw/multimeter/initramfs/pid1"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: must run as PID 1")
		os.Exit(2)
	}
	pid1.Halt(pid1.Run(pid1.Config{Console: os.Stderr}))
}
