package logring

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lines(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Line))
	}
	return out
}

func TestRing(t *testing.T) {
	tests := []struct {
		name   string
		cap    int
		writes []string
		after  uint64
		want   []string
	}{
		{"empty", 3, nil, 0, nil},
		{"some", 3, []string{"a\nb\n"}, 0, []string{"1:a", "2:b"}},
		{"wraps", 3, []string{"a\n", "b\n", "c\n", "d\n", "e\n"}, 0, []string{"3:c", "4:d", "5:e"}},
		{"after", 3, []string{"a\n", "b\n", "c\n", "d\n", "e\n"}, 3, []string{"4:d", "5:e"}},
		{"after everything", 3, []string{"a\n"}, 9, nil},
		{"partial line waits", 3, []string{"ab", "c\nd"}, 0, []string{"1:abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.cap)
			for _, w := range tt.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if diff := cmp.Diff(tt.want, lines(r.Entries(tt.after))); diff != "" {
				t.Errorf("Entries(%d) mismatch (-want +got):\n%s", tt.after, diff)
			}
		})
	}
}

func TestRingBehindSlog(t *testing.T) {
	r := New(0)
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(io.Discard, r), nil))
	for i := range 1500 {
		log.Info("hello", "i", i)
	}
	got := r.Entries(0)
	if len(got) != DefaultCapacity || got[0].Seq != 501 || !strings.Contains(got[len(got)-1].Line, `"i":1499`) {
		t.Errorf("Entries(0) = %d lines from %d, last %q; want %d lines from 501 ending with i=1499", len(got), got[0].Seq, got[len(got)-1].Line, DefaultCapacity)
	}
}
