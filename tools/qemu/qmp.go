package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// QMP sends one command, with arguments if args is not nil, to a QEMU
// monitor socket (QEMU Machine Protocol) and returns the command's result.
func QMP(socket, command string, args any) (json.RawMessage, error) {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("qmp: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	// The greeting, then capabilities negotiation, then the command.
	if _, err := readReply(r, true); err != nil {
		return nil, err
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		msg := map[string]any{"execute": cmd}
		if cmd == command && args != nil {
			msg["arguments"] = args
		}
		req, err := json.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", cmd, err)
		}
		if _, err := conn.Write(append(req, '\n')); err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", cmd, err)
		}
		res, err := readReply(r, false)
		if err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", cmd, err)
		}
		if cmd == command {
			return res, nil
		}
	}
	return nil, nil
}

// readReply reads messages until the greeting (if greeting) or a command
// reply, skipping asynchronous events.
func readReply(r *bufio.Reader, greeting bool) (json.RawMessage, error) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("qmp: read: %w", err)
		}
		var msg struct {
			QMP    json.RawMessage `json:"QMP"`
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return nil, fmt.Errorf("qmp: bad message %q: %w", line, err)
		}
		switch {
		case greeting && msg.QMP != nil:
			return msg.QMP, nil
		case msg.Error != nil:
			return nil, fmt.Errorf("qmp: %s: %s", msg.Error.Class, msg.Error.Desc)
		case !greeting && msg.Return != nil:
			return msg.Return, nil
		}
	}
}
