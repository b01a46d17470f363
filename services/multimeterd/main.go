// Command multimeterd is the appliance daemon: capture, analysis, ring
// buffer, REST API and web UI in one process.
//
// Synopsis:
//
//	multimeterd --data DIR --listen ADDR [--http-redirect-listen ADDR] [--admin-password PW]
//	            [--console FILE] [--replay FILE]... [--replay-speed X] [--iface NAME]... [--bridge A,B]...
//	            [--storage DIR]... [--upload-limit BYTES] [--analysis FILE] [--admin-socket PATH]
//	multimeterd set-admin-password [--socket PATH]
//	multimeterd console [--socket PATH]
//
// --replay feeds files to the main instance as if they were monitor ports,
// as fast as the analysis takes them, or with --replay-speed at their
// recorded pace (1) or a multiple of it; time in the statistics is the
// packets' time either way.
//
// --iface and --bridge name the monitor ports (a bridged pair forwards
// every frame between its two ports in bridge mode; the mode is switched
// at run time through /API/system/interfaces/mode). --storage names the
// ring buffer's storage devices, configured through /API/system/ringbuffer.
// --analysis names a JSON file with the main analysis instance's
// configuration (engine.Config: shards, queues, level, virtual link
// groups, table capacities, history), DATA/analysis.json by default;
// PUT /API/system/analysis changes it at run time and saves it there.
//
// --admin-socket lets the console set the admin password: from a shell
// with "multimeterd set-admin-password", or on a serial console without a
// shell with "multimeterd console" (the init runs it there).
//
// On a fresh data directory without --admin-password, the generated
// password of the admin user is written once to the console (--console,
// stderr by default), never to the log.
//
// In the image the init starts it with the data partition and :443; natively
// it runs against a pcap or a monitor interface for development and tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/multimeter-fw/multimeter/services/consoleadmin"
	"github.com/multimeter-fw/multimeter/services/daemon"
	"github.com/multimeter-fw/multimeter/services/logring"
)

var errUsage = errors.New("usage")

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "set-admin-password" || args[0] == "console") {
		return runConsole(ctx, args[0], args[1:], stderr)
	}
	fs := flag.NewFlagSet("multimeterd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg daemon.Config
	var replay, ifaces, bridges, storage listFlag
	fs.StringVar(&cfg.DataDir, "data", "", "data directory (config, users, certificates)")
	fs.StringVar(&cfg.Listen, "listen", ":443", "HTTPS listen address")
	fs.StringVar(&cfg.AdminSocket, "admin-socket", "", "Unix socket (root only) on which the console sets the admin password (e.g. /run/multimeterd.sock)")
	fs.StringVar(&cfg.HTTPRedirectListen, "http-redirect-listen", "", "plain HTTP address that only redirects to HTTPS (e.g. :80)")
	console := fs.String("console", "", "file to show a generated first-boot admin password on (default stderr)")
	fs.Var(&replay, "replay", "pcap/pcapng file to analyse as a monitor port (repeatable)")
	fs.Float64Var(&cfg.ReplaySpeed, "replay-speed", 0, "replay at the recorded pace times this (0: as fast as the analysis takes it)")
	fs.Var(&ifaces, "iface", "monitor interface (repeatable)")
	fs.Var(&bridges, "bridge", "bridged pair of monitor interfaces, as a,b (repeatable)")
	fs.Var(&storage, "storage", "ring buffer storage directory (repeatable)")
	fs.Int64Var(&cfg.UploadLimit, "upload-limit", 0, "largest pcap upload in bytes (default 4 GiB)")
	fs.StringVar(&cfg.AdminPassword, "admin-password", "", "initial admin password for a fresh data directory")
	fs.StringVar(&cfg.Model, "model", "virtual", "model profile")
	fs.StringVar(&cfg.BootSlot, "boot-slot", "", "firmware slot of this boot (set by the init)")
	fs.StringVar(&cfg.AnalysisFile, "analysis", "", "JSON file with the analysis configuration (virtual link groups, shards, ...); PUT /API/system/analysis saves it (default DATA/analysis.json)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if cfg.AnalysisFile != "" {
		// Named, it must be there: a mistyped path must not mean defaults.
		if _, err := os.Stat(cfg.AnalysisFile); err != nil {
			return fmt.Errorf("multimeterd: analysis configuration: %w", err)
		}
	}
	cfg.Replay, cfg.Ifaces, cfg.Bridges, cfg.Storage = replay, ifaces, bridges, storage
	if cfg.DataDir == "" {
		fmt.Fprintln(stderr, "multimeterd: --data is required")
		fs.Usage()
		return errUsage
	}
	cfg.Console = stderr
	if *console != "" {
		f, err := os.OpenFile(*console, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("multimeterd: console: %w", err)
		}
		defer f.Close()
		cfg.Console = f
	}
	// Logs go to the console and into a ring the API serves.
	cfg.Logs = logring.New(0)
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(stderr, cfg.Logs), nil))
	return daemon.Run(ctx, cfg, log)
}

// runConsole is the console side of package consoleadmin: set-admin-password
// asks once (from a shell), console is the serial console's menu of an
// image without a shell.
func runConsole(ctx context.Context, cmd string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("multimeterd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/run/multimeterd.sock", "the daemon's --admin-socket")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if cmd == "console" {
		return consoleadmin.Menu(ctx, *socket, os.Stdin, os.Stdout)
	}
	// Like passwd and ssh, read from the controlling terminal when stdin
	// is not one (a shell that pipes its children's input would echo);
	// scripts without a terminal pipe the password in twice.
	in := os.Stdin
	if !term.IsTerminal(int(in.Fd())) {
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			defer tty.Close()
			if term.IsTerminal(int(tty.Fd())) {
				in = tty
			}
		}
	}
	pw, err := consoleadmin.Prompt(in, os.Stdout)
	if err == nil {
		err = consoleadmin.SetAdminPassword(ctx, *socket, pw)
	}
	if err != nil {
		return fmt.Errorf("the admin password was not changed: %w", err)
	}
	fmt.Fprintln(os.Stdout, "The admin password is set.")
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}
