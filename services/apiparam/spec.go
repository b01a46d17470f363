package apiparam

import (
	"strconv"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

// Limits of the typed parameters. Values outside them are 400s.
const (
	maxUnix     = 253402300799 // 9999-12-31T23:59:59Z
	maxTimespan = 10 * 365 * 24 * 3600
	maxValues   = 100000
	maxPage     = 1 << 30
	maxCount    = 1 << 30
	maxGroup    = 1023
	maxSlot     = 1023
)

// Interval is the time selection of a statistics request: starttime and
// endtime in Unix seconds, the history resolution (timespan, seconds), the
// number of history points (values) and whether to leave the history
// datasets out (skiphistorydata).
type Interval struct {
	Start, End  time.Time     // zero when not given
	Timespan    time.Duration // 0: the endpoint's default resolution
	Values      int           // 0: the endpoint's default number of points
	SkipHistory bool
}

// Selected reports whether the request chose an interval; without one the
// interval counters equal the last second.
func (iv Interval) Selected() bool { return !iv.Start.IsZero() || !iv.End.IsZero() }

// ParseInterval reads starttime, endtime, timespan, values and
// skiphistorydata. An endtime before the starttime is a 400.
func ParseInterval(q Query) (Interval, error) {
	var iv Interval
	var err error
	if iv.Start, err = unixSeconds(q, "starttime"); err != nil {
		return Interval{}, err
	}
	if iv.End, err = unixSeconds(q, "endtime"); err != nil {
		return Interval{}, err
	}
	if !iv.Start.IsZero() && !iv.End.IsZero() && iv.End.Before(iv.Start) {
		return Interval{}, apierr.BadParam("endtime", "%d is before starttime %d", iv.End.Unix(), iv.Start.Unix())
	}
	span, err := q.Int("timespan", 0, 1, maxTimespan)
	if err != nil {
		return Interval{}, err
	}
	iv.Timespan = time.Duration(span) * time.Second
	values, err := q.Int("values", 0, 1, maxValues)
	if err != nil {
		return Interval{}, err
	}
	iv.Values = int(values)
	if iv.SkipHistory, err = q.Bool("skiphistorydata", false); err != nil {
		return Interval{}, err
	}
	return iv, nil
}

func unixSeconds(q Query, name string) (time.Time, error) {
	if !q.Has(name) {
		return time.Time{}, nil
	}
	s, err := q.Int(name, -1, 0, maxUnix)
	if err != nil || s < 0 {
		return time.Time{}, err
	}
	return time.Unix(s, 0).UTC(), nil
}

// List is how a list endpoint should order and cut its items.
type List struct {
	Sort    string // lower-cased sort key; "" is the list's default order
	Reverse bool   // true: descending
	Page    int    // from 0
	Count   int    // items per page; 0 when not given
}

// ParseList reads sort, reverse, page and count. Whether the sort key
// exists and how large count may be is the list's business (apilist).
func ParseList(q Query) (List, error) {
	var l List
	sort, err := q.Value("sort")
	if err != nil {
		return List{}, err
	}
	l.Sort = strings.ToLower(sort)
	if l.Reverse, err = q.Bool("reverse", false); err != nil {
		return List{}, err
	}
	page, err := q.Int("page", 0, 0, maxPage)
	if err != nil {
		return List{}, err
	}
	count, err := q.Int("count", 0, 1, maxCount)
	if err != nil {
		return List{}, err
	}
	l.Page, l.Count = int(page), int(count)
	return l, nil
}

// CSV reports whether the client asked for CSV (csv=true).
func CSV(q Query) (bool, error) { return q.Bool("csv", false) }

// Group returns the virtual link group (group=N, default 0).
func Group(q Query) (int, error) {
	g, err := q.Int("group", 0, 0, maxGroup)
	return int(g), err
}

// HeaderInstance is the header existing scripts use to pick the analysis
// instance; its spelling is part of the contract.
const HeaderInstance = "X-AllegroPackets-Multimeter-ID"

// Instance is the analysis instance a request addresses: a device (""
// for this one) and a slot (0 live, 1.. the pcap analysis slots).
type Instance struct {
	Device string
	Slot   int
}

// ParseInstance reads mm-id, or when it is absent the instance header
// value, in the form "<device>:<slot>", ":<slot>" or "<device>".
func ParseInstance(q Query, header string) (Instance, error) {
	name, text := "mm-id", header
	if q.Has("mm-id") {
		v, err := q.Value("mm-id")
		if err != nil {
			return Instance{}, err
		}
		text = v
	} else {
		name = HeaderInstance
	}
	text = strings.TrimSpace(text)
	device, slotText, hasSlot := strings.Cut(text, ":")
	if !validDevice(device) {
		return Instance{}, apierr.BadParam(name, "invalid device name %s", quote(device))
	}
	inst := Instance{Device: device}
	if !hasSlot || slotText == "" {
		return inst, nil
	}
	slot, err := strconv.Atoi(slotText)
	if err != nil || slot < 0 || slot > maxSlot {
		return Instance{}, apierr.BadParam(name, "want <device>:<slot> with slot 0..%d, got %s", maxSlot, quote(text))
	}
	inst.Slot = slot
	return inst, nil
}

// validDevice accepts host names (letters, digits, '-', '.', '_').
func validDevice(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}
