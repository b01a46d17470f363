package apiparam

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

// wantParamError checks that err is a 400 naming param.
func wantParamError(t *testing.T, call string, err error, param string) {
	t.Helper()
	e, ok := errors.AsType[*apierr.Error](err)
	if !ok || e.Status != 400 || e.Param != param || !strings.Contains(e.Message, param) {
		t.Errorf("%s error = %v; want a 400 naming %q", call, err, param)
	}
}

func TestParseNames(t *testing.T) {
	tests := []struct {
		raw, name, want string
		has             bool
	}{
		{"startTime=5", "starttime", "5", true},
		{"STARTTIME=5", "startTime", "5", true},
		{"starttime=1&startTime=2", "starttime", "1", true},
		{"StartTime=2&starttime=1", "starttime", "2", true},
		{"expression=ip%3D%3D10.1.2.3%20and%20tcp", "expression", "ip==10.1.2.3 and tcp", true},
		{"a=1+2", "a", "1 2", true},
		{"flag", "flag", "", true},
		{"a=1&&b=2", "b", "2", true},
		{"x=1", "y", "", false},
		{"%zz=1&y=2", "y", "2", true},
	}
	for _, tt := range tests {
		q := Parse(tt.raw)
		got, err := q.Value(tt.name)
		if err != nil || got != tt.want || q.Has(tt.name) != tt.has {
			t.Errorf("Parse(%q).Value(%q) = %q, %v, Has %v; want %q, Has %v", tt.raw, tt.name, got, err, q.Has(tt.name), tt.want, tt.has)
		}
	}
}

func TestMalformedOnlyWhenRead(t *testing.T) {
	q := Parse("junk=%zz&count=5")
	if n, err := q.Int("count", 0, 1, 100); err != nil || n != 5 {
		t.Errorf("Int(count) = %d, %v; want 5, nil despite a malformed unrelated parameter", n, err)
	}
	_, err := q.Value("junk")
	wantParamError(t, "Value(junk)", err, "junk")
}

func TestTyped(t *testing.T) {
	q := Parse("t=TRUE&f=0&bad=yes&n=42&neg=-3&big=99999999999999999999&x=4x")
	if b, err := q.Bool("t", false); err != nil || !b {
		t.Errorf("Bool(t) = %v, %v; want true", b, err)
	}
	if b, err := q.Bool("f", true); err != nil || b {
		t.Errorf("Bool(f) = %v, %v; want false", b, err)
	}
	if b, err := q.Bool("absent", true); err != nil || !b {
		t.Errorf("Bool(absent) = %v, %v; want the default true", b, err)
	}
	_, err := q.Bool("bad", false)
	wantParamError(t, "Bool(bad)", err, "bad")
	if n, err := q.Int("n", 0, 0, 100); err != nil || n != 42 {
		t.Errorf("Int(n) = %d, %v; want 42", n, err)
	}
	for _, name := range []string{"neg", "big", "x"} {
		_, err := q.Int(name, 0, 0, 100)
		wantParamError(t, "Int("+name+")", err, name)
	}
}

func TestParseInterval(t *testing.T) {
	tests := []struct {
		raw     string
		want    Interval
		errName string
	}{
		{"", Interval{}, ""},
		{"starttime=1700000000&endtime=1700000600&timespan=60&values=100&skiphistorydata=true",
			Interval{Start: time.Unix(1700000000, 0).UTC(), End: time.Unix(1700000600, 0).UTC(), Timespan: time.Minute, Values: 100, SkipHistory: true}, ""},
		{"startTime=1700000000", Interval{Start: time.Unix(1700000000, 0).UTC()}, ""},
		{"starttime=0", Interval{Start: time.Unix(0, 0).UTC()}, ""},
		{"starttime=20&endtime=10", Interval{}, "endtime"},
		{"starttime=-1", Interval{}, "starttime"},
		{"starttime=1700000000000000", Interval{}, "starttime"},
		{"endtime=now", Interval{}, "endtime"},
		{"timespan=0", Interval{}, "timespan"},
		{"values=abc", Interval{}, "values"},
		{"skiphistorydata=maybe", Interval{}, "skiphistorydata"},
	}
	for _, tt := range tests {
		got, err := ParseInterval(Parse(tt.raw))
		if tt.errName != "" {
			wantParamError(t, "ParseInterval("+tt.raw+")", err, tt.errName)
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseInterval(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
	if iv, _ := ParseInterval(Parse("")); iv.Selected() {
		t.Errorf("Interval{}.Selected() = true; want false")
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		raw     string
		want    List
		errName string
	}{
		{"", List{}, ""},
		{"sort=BPS&reverse=true&page=2&count=10", List{Sort: "bps", Reverse: true, Page: 2, Count: 10}, ""},
		{"Sort=bytes&Count=9999", List{Sort: "bytes", Count: 9999}, ""},
		{"page=-1", List{}, "page"},
		{"count=0", List{}, "count"},
		{"count=ten", List{}, "count"},
		{"reverse=descending", List{}, "reverse"},
	}
	for _, tt := range tests {
		got, err := ParseList(Parse(tt.raw))
		if tt.errName != "" {
			wantParamError(t, "ParseList("+tt.raw+")", err, tt.errName)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseList(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
}

func TestCSVAndGroup(t *testing.T) {
	if c, err := CSV(Parse("csv=true")); err != nil || !c {
		t.Errorf("CSV(csv=true) = %v, %v; want true", c, err)
	}
	_, err := CSV(Parse("csv=yes"))
	wantParamError(t, "CSV(csv=yes)", err, "csv")
	if g, err := Group(Parse("group=1")); err != nil || g != 1 {
		t.Errorf("Group(group=1) = %d, %v; want 1", g, err)
	}
	_, err = Group(Parse("group=-1"))
	wantParamError(t, "Group(group=-1)", err, "group")
}

func TestParseInstance(t *testing.T) {
	tests := []struct {
		raw, header string
		want        Instance
		errName     string
	}{
		{"", "", Instance{}, ""},
		{"mm-id=:1", "", Instance{Slot: 1}, ""},
		{"MM-ID=box:2", "", Instance{Device: "box", Slot: 2}, ""},
		{"mm-id=box", "", Instance{Device: "box"}, ""},
		{"", ":1", Instance{Slot: 1}, ""},
		{"", " mm-7:3 ", Instance{Device: "mm-7", Slot: 3}, ""},
		{"mm-id=:2", ":1", Instance{Slot: 2}, ""},
		{"mm-id=:x", "", Instance{}, "mm-id"},
		{"mm-id=:-1", "", Instance{}, "mm-id"},
		{"mm-id=" + url.QueryEscape("a b:1"), "", Instance{}, "mm-id"},
		{"", ":99999", Instance{}, HeaderInstance},
	}
	for _, tt := range tests {
		got, err := ParseInstance(Parse(tt.raw), tt.header)
		if tt.errName != "" {
			wantParamError(t, "ParseInstance("+tt.raw+", "+tt.header+")", err, tt.errName)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseInstance(%q, %q) = %+v, %v; want %+v", tt.raw, tt.header, got, err, tt.want)
		}
	}
}

func TestFromMap(t *testing.T) {
	q := FromMap(map[string]string{"Count": "5", "count": "7", "sort": "bps"})
	if v, _ := q.Value("COUNT"); v != "5" {
		t.Errorf("FromMap(Count=5, count=7).Value(COUNT) = %q; want the smaller value 5", v)
	}
}
