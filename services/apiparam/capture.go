package apiparam

import (
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

// Capture is a packet capture request (/API/data/modules/capture).
type Capture struct {
	Expression string    // filter expression, as sent ("" captures everything)
	Start      time.Time // first packet at or after; never zero
	End        time.Time // stop at the first packet at or after; zero: no end
	SnapLen    int       // bytes kept per packet; 65535 keeps whole packets
	FromBuffer bool      // from the ring buffer, else live from Start on
	BufferSlot int       // ring buffer id in a cluster (captureBufferSlotId)
	ToMedia    bool      // write to a storage device instead of the response
}

const (
	maxSnapLen    = 65535
	maxBufferSlot = 1023
)

// ParseCapture reads the capture parameters: expression, startTime and
// endTime in microseconds since the epoch (endTime=now takes the start
// from timespan seconds back, unless startTime is given), snapPacketLength,
// fromCaptureBuffer, captureBufferSlotId and captureToMedia. now is the
// time to take for "now" and for a missing startTime.
func ParseCapture(q Query, now time.Time) (Capture, error) {
	c := Capture{Start: now}
	var err error
	if c.Expression, err = q.Value("expression"); err != nil {
		return Capture{}, err
	}
	start, hasStart, err := unixMicros(q, "startTime")
	if err != nil {
		return Capture{}, err
	}
	if hasStart {
		c.Start = start
	}
	endText, err := q.Value("endTime")
	if err != nil {
		return Capture{}, err
	}
	if strings.EqualFold(endText, "now") {
		c.End = now
		if !hasStart {
			span, err := q.Int("timespan", -1, 1, maxTimespan)
			if err != nil {
				return Capture{}, err
			}
			if span < 0 {
				return Capture{}, apierr.BadParam("timespan", "required with endTime=now and no startTime")
			}
			c.Start = now.Add(-time.Duration(span) * time.Second)
		}
	} else if c.End, _, err = unixMicros(q, "endTime"); err != nil {
		return Capture{}, err
	}
	if !c.End.IsZero() && c.End.Before(c.Start) {
		return Capture{}, apierr.BadParam("endTime", "before the start of the capture")
	}
	snap, err := q.Int("snapPacketLength", maxSnapLen, 1, maxSnapLen)
	if err != nil {
		return Capture{}, err
	}
	c.SnapLen = int(snap)
	if c.FromBuffer, err = q.Bool("fromCaptureBuffer", false); err != nil {
		return Capture{}, err
	}
	slot, err := q.Int("captureBufferSlotId", 0, 0, maxBufferSlot)
	if err != nil {
		return Capture{}, err
	}
	c.BufferSlot = int(slot)
	if c.ToMedia, err = q.Bool("captureToMedia", false); err != nil {
		return Capture{}, err
	}
	return c, nil
}

func unixMicros(q Query, name string) (time.Time, bool, error) {
	if v, err := q.Value(name); err != nil || v == "" {
		return time.Time{}, false, err
	}
	us, err := q.Int(name, 0, 0, maxUnix*1_000_000)
	if err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMicro(us).UTC(), true, nil
}
