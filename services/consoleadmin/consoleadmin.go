// Package consoleadmin lets whoever is at the appliance's serial console
// set the admin password: the first-boot password is shown there once,
// and the manual's promise is that it can be replaced there too, without
// knowing it (a lost password is recovered at the console).
//
// The daemon serves a Unix socket that only root can open (mode 0600 in
// /run); the console program (multimeterd console, run by the init on the
// serial line, or multimeterd set-admin-password from a shell) prompts
// for the password and sends it there. Physical or serial access is the
// credential, as on every appliance's console.
//
//	ln, err := consoleadmin.Listen("/run/multimeterd.sock")
//	go consoleadmin.Serve(ctx, ln, setAdminPassword, log)
//	err := consoleadmin.SetAdminPassword(ctx, "/run/multimeterd.sock", pw)
package consoleadmin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// SetFunc replaces the admin password; the user store checks it against
// its password rules.
type SetFunc func(ctx context.Context, password string) error

const (
	route       = "/admin-password"
	maxPassword = 1 << 10
)

// Listen opens the Unix socket at path, for root only; a stale socket
// file is replaced. Closing the listener removes the file.
func Listen(path string) (net.Listener, error) {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("consoleadmin: listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("consoleadmin: %w", err)
	}
	return ln, nil
}

// Serve answers on ln until ctx ends, then closes it.
func Serve(ctx context.Context, ln net.Listener, set SetFunc, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+route, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPassword+1))
		if err != nil || len(body) > maxPassword {
			http.Error(w, "password too long", http.StatusBadRequest)
			return
		}
		if err := set(r.Context(), string(body)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Info("admin password set on the console")
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("consoleadmin: %w", err)
}

// SetAdminPassword sends a new admin password to the daemon at socket.
func SetAdminPassword(ctx context.Context, socket, password string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://multimeterd"+route, strings.NewReader(password))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("the daemon does not answer (%s): %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return errors.New(strings.TrimSpace(string(msg)))
	}
	return nil
}

// Prompt asks for a new password twice on the terminal in (echo off; a
// plain line each when in is not a terminal) and returns it.
func Prompt(in *os.File, out io.Writer) (string, error) {
	// Echo goes off before the prompt is shown: whatever is typed after
	// it must not appear, however fast it comes.
	if restore, err := echoOff(in); err == nil {
		defer restore()
	}
	read := lineReader(in)
	fmt.Fprint(out, "New admin password: ")
	first, err := read()
	if err != nil {
		return "", err
	}
	fmt.Fprint(out, "\r\nRepeat it: ")
	second, err := read()
	fmt.Fprint(out, "\r\n")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}

// echoOff turns a terminal's echo off until restore is called.
func echoOff(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// lineReader reads a line at a time, without echo on a terminal.
func lineReader(in *os.File) func() (string, error) {
	if term.IsTerminal(int(in.Fd())) {
		return func() (string, error) {
			b, err := term.ReadPassword(int(in.Fd()))
			return string(b), err
		}
	}
	br := bufio.NewReader(in)
	return func() (string, error) {
		line, err := br.ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

// Menu is the serial console of an appliance without a shell: it waits
// for Enter, then sets the admin password, until in ends.
func Menu(ctx context.Context, socket string, in *os.File, out io.Writer) error {
	br := bufio.NewReader(in)
	for ctx.Err() == nil {
		fmt.Fprint(out, "\r\nPress Enter to set the admin password.\r\n")
		if _, err := br.ReadString('\n'); err != nil {
			return err
		}
		if br.Buffered() > 0 { // typed ahead: start from a clean line
			br.Discard(br.Buffered())
		}
		pw, err := Prompt(in, out)
		if err == nil {
			err = SetAdminPassword(ctx, socket, pw)
		}
		if err != nil {
			fmt.Fprintf(out, "The admin password was not changed: %v\r\n", err)
			continue
		}
		fmt.Fprint(out, "The admin password is set.\r\n")
	}
	return ctx.Err()
}
