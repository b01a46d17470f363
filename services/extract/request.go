package extract

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/filter"
)

// Output formats.
const (
	FormatPcap   = "pcap"
	FormatPcapng = "pcapng"
)

// WholePacket is the snapPacketLength that keeps whole packets.
const WholePacket = 65535

// Request is a parsed GET /API/data/modules/capture (see
// spec/rest-api.md and the reference's "Pcap extraction").
type Request struct {
	Expression string
	Filter     *filter.Filter
	// Start and End bound the capture: packets with Start <= time < End.
	// A zero Start means "from now" live and "from the oldest packet" in
	// the ring buffer; a zero End means "until stopped" live and "until
	// now" in the ring buffer.
	Start, End time.Time
	// SnapLen truncates packets (WholePacket: no truncation).
	SnapLen           int
	FromCaptureBuffer bool
	BufferID          int // captureBufferSlotId
	ToMedia           bool
	Format            string
	// Device and Slot come from mm-id=<device>:<slot> (or the
	// X-AllegroPackets-Multimeter-ID header): slot 0 is the live analysis,
	// 1 the first pcap analysis slot.
	Device string
	Slot   int
}

// ParamError is a bad request parameter; the API answers 400 with its
// message, which starts with the parameter's name.
type ParamError struct {
	Param string
	Err   error
}

func (e *ParamError) Error() string { return "parameter " + e.Param + ": " + e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

func paramErr(param, format string, args ...any) error {
	return &ParamError{Param: param, Err: fmt.Errorf(format, args...)}
}

// ParseRequest reads the capture parameters. Names match
// case-insensitively (starttime works too); parameters it does not know
// are ignored, as scripts send extra ones. now resolves endTime=now.
func ParseRequest(q url.Values, now time.Time) (*Request, error) {
	get := func(name string) (string, bool) {
		for k, v := range q {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0], true
			}
		}
		return "", false
	}
	r := &Request{SnapLen: WholePacket, Format: FormatPcap}
	var err error
	if v, ok := get("expression"); ok {
		r.Expression = v
		if r.Filter, err = filter.Parse(v); err != nil {
			return nil, &ParamError{Param: "expression", Err: err}
		}
	} else {
		r.Filter = filter.MustParse("")
	}
	micros := func(name, v string) (time.Time, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return time.Time{}, paramErr(name, "%q is not a time in microseconds since 1970", v)
		}
		return time.UnixMicro(n), nil
	}
	if v, ok := get("startTime"); ok {
		if r.Start, err = micros("startTime", v); err != nil {
			return nil, err
		}
	}
	if v, ok := get("endTime"); ok {
		if strings.EqualFold(v, "now") {
			r.End = now
			if r.Start.IsZero() {
				ts, ok := get("timespan")
				if !ok {
					return nil, paramErr("timespan", "required with endTime=now and no startTime")
				}
				secs, err := strconv.ParseFloat(ts, 64)
				if err != nil || secs <= 0 || secs > 100*365*86400 {
					return nil, paramErr("timespan", "%q is not a positive number of seconds", ts)
				}
				r.Start = now.Add(-time.Duration(secs * float64(time.Second)))
			}
		} else if r.End, err = micros("endTime", v); err != nil {
			return nil, err
		}
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.Start.Before(r.End) {
		return nil, paramErr("endTime", "must be after startTime")
	}
	if v, ok := get("snapPacketLength"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > WholePacket {
			return nil, paramErr("snapPacketLength", "%q: want 1–65535", v)
		}
		r.SnapLen = n
	}
	bools := []struct {
		name string
		dst  *bool
	}{{"fromCaptureBuffer", &r.FromCaptureBuffer}, {"captureToMedia", &r.ToMedia}}
	for _, b := range bools {
		if v, ok := get(b.name); ok {
			if *b.dst, err = parseBool(v); err != nil {
				return nil, &ParamError{Param: b.name, Err: err}
			}
		}
	}
	if v, ok := get("captureBufferSlotId"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 255 {
			return nil, paramErr("captureBufferSlotId", "%q: want 0–255", v)
		}
		r.BufferID = n
	}
	if v, ok := get("format"); ok {
		switch strings.ToLower(v) {
		case FormatPcap, FormatPcapng:
			r.Format = strings.ToLower(v)
		default:
			return nil, paramErr("format", "%q: want pcap or pcapng", v)
		}
	}
	if v, ok := get("mm-id"); ok {
		if r.Device, r.Slot, err = ParseMMID(v); err != nil {
			return nil, &ParamError{Param: "mm-id", Err: err}
		}
	}
	return r, nil
}

// ParseMMID parses <device>:<slot> (device may be empty: this one).
func ParseMMID(v string) (device string, slot int, err error) {
	device, s, ok := strings.Cut(v, ":")
	if !ok {
		s, device = device, ""
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return "", 0, fmt.Errorf("%q: want <device>:<slot> with slot 0–255", v)
	}
	return device, n, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no", "":
		return false, nil
	}
	return false, errors.New("want true or false")
}
