// Command flash writes a factory disk image (images/out/<profile>/disk.img)
// to a disk or USB stick. It refuses a partition, a device that is
// mounted or in use, and one the image does not fit on; it asks the
// operator to type the device's name before it erases anything, and reads
// the written image back to verify it.
//
// Synopsis:
//
//	flash [-yes] IMAGE DEVICE
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/multimeter-fw/multimeter/tools/diskflash"
)

var errUsage = errors.New("usage: flash [-yes] IMAGE DEVICE")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		return errUsage
	}
	img, dev := fs.Arg(0), fs.Arg(1)
	d, err := diskflash.Inspect(dev, img)
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(stdout, "This erases everything on %s.\nType the device name (%s) to continue: ", d, d.Name)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != d.Name {
			return errors.New("not confirmed; nothing was written")
		}
	}
	last := -1
	err = diskflash.Write(ctx, img, dev, func(written, total int64) {
		if pct := int(written * 100 / total); pct/10 != last/10 {
			fmt.Fprintf(stdout, "\rwriting %s: %3d%%", dev, pct)
			last = pct
		}
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s written to %s and verified\n", img, d)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flash:", err)
		os.Exit(1)
	}
}
