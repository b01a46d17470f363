package apiparam

import (
	"testing"
	"time"
)

func TestParseCapture(t *testing.T) {
	now := time.UnixMicro(1700000000_000000).UTC()
	at := func(us int64) time.Time { return time.UnixMicro(us).UTC() }
	tests := []struct {
		raw     string
		want    Capture
		errName string
	}{
		{"", Capture{Start: now, SnapLen: 65535}, ""},
		{"expression=ip==10.1.2.3%20and%20l4Protocol==TCP",
			Capture{Expression: "ip==10.1.2.3 and l4Protocol==TCP", Start: now, SnapLen: 65535}, ""},
		{"expression=ip==10.1.2.3&starttime=1699996400000000&endtime=1700000000000000&fromCaptureBuffer=true",
			Capture{Expression: "ip==10.1.2.3", Start: at(1699996400000000), End: now, SnapLen: 65535, FromBuffer: true}, ""},
		{"endTime=now&timespan=60", Capture{Start: now.Add(-time.Minute), End: now, SnapLen: 65535}, ""},
		{"startTime=1699999999000001&endTime=now", Capture{Start: at(1699999999000001), End: now, SnapLen: 65535}, ""},
		{"snapPacketLength=128&captureBufferSlotId=2&captureToMedia=true&mm-id=:1",
			Capture{Start: now, SnapLen: 128, BufferSlot: 2, ToMedia: true}, ""},
		{"endTime=now", Capture{}, "timespan"},
		{"startTime=1700000000000001&endTime=1700000000000000", Capture{}, "endTime"},
		{"startTime=yesterday", Capture{}, "startTime"},
		{"endTime=-5", Capture{}, "endTime"},
		{"snapPacketLength=0", Capture{}, "snapPacketLength"},
		{"snapPacketLength=70000", Capture{}, "snapPacketLength"},
		{"fromCaptureBuffer=yes", Capture{}, "fromCaptureBuffer"},
		{"captureBufferSlotId=-1", Capture{}, "captureBufferSlotId"},
		{"expression=%zz", Capture{}, "expression"},
	}
	for _, tt := range tests {
		got, err := ParseCapture(Parse(tt.raw), now)
		if tt.errName != "" {
			wantParamError(t, "ParseCapture("+tt.raw+")", err, tt.errName)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCapture(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
}
