// Command trafficgen writes a deterministic mix of real Ethernet frames
// (see package tools/trafficgen) to a pcap file.
//
// Synopsis:
//
//	trafficgen -n 2000000 -seed 1 -o mix.pcap
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trafficgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 100000, "number of frames")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same frames)")
	out := fs.String("o", "", "output pcap file (default stdout)")
	pps := fs.Float64("pps", 0, "timestamp spacing in packets per second (default 200000)")
	clients := fs.Int("clients", 0, "client hosts (default 500)")
	servers := fs.Int("servers", 0, "server hosts (default 40)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *n < 0 {
		return fmt.Errorf("trafficgen: -n must not be negative")
	}
	g := trafficgen.New(trafficgen.Config{Seed: *seed, PacketsPerSecond: *pps, Clients: *clients, Servers: *servers})
	if *out == "" {
		return trafficgen.WritePcap(stdout, g, *n)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := trafficgen.WritePcap(f, g, *n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}
