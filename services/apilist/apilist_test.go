package apilist

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
)

type row struct {
	IP    netip.Addr `json:"ip"`
	Bytes uint64     `json:"bytes"`
	BPS   uint64     `json:"bps"`
	Name  string     `json:"name"`
}

func testSpec(max int) *Spec[row] {
	return &Spec[row]{
		Keys: []Key[row]{
			{Name: "bytes", Compare: func(a, b row) int { return cmp.Compare(a.Bytes, b.Bytes) }},
			{Name: "bps", Compare: func(a, b row) int { return cmp.Compare(a.BPS, b.BPS) }},
		},
		Order:    func(a, b row) int { return a.IP.Compare(b.IP) },
		MaxCount: max,
		Columns: []Column[row]{
			{Name: "ip", Value: func(r row) string { return r.IP.String() }},
			{Name: "bytes", Value: func(r row) string { return strconv.FormatUint(r.Bytes, 10) }},
			{Name: "name", Value: func(r row) string { return r.Name }},
		},
	}
}

// rows makes n rows with many equal keys, so that tie-breaking matters.
func rows(n int, seed uint64) []row {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]row, n)
	for i := range out {
		out[i] = row{
			IP:    netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Bytes: r.Uint64N(50),
			BPS:   r.Uint64N(1000),
		}
	}
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// reference pages by sorting everything with the standard library's
// stable sort: the answer Select's partial selection must match.
func reference(items []row, opts apiparam.List, count int) []row {
	all := slices.Clone(items)
	slices.SortStableFunc(all, func(a, b row) int { return a.IP.Compare(b.IP) })
	key := func(a, b row) int { return 0 }
	switch opts.Sort {
	case "bytes":
		key = func(a, b row) int { return cmp.Compare(a.Bytes, b.Bytes) }
	case "bps":
		key = func(a, b row) int { return cmp.Compare(a.BPS, b.BPS) }
	}
	if opts.Sort == "" && opts.Reverse {
		slices.Reverse(all)
	} else {
		slices.SortStableFunc(all, func(a, b row) int {
			if opts.Reverse {
				return key(b, a)
			}
			return key(a, b)
		})
	}
	if count == 0 {
		return all
	}
	lo := min(opts.Page*count, len(all))
	return all[lo:min(lo+count, len(all))]
}

func TestSelectMatchesFullSort(t *testing.T) {
	items := rows(1000, 7)
	spec := testSpec(100)
	for _, sort := range []string{"", "bytes", "bps"} {
		for _, reverse := range []bool{false, true} {
			for _, pc := range [][2]int{{0, 1}, {0, 10}, {3, 7}, {9, 100}, {10, 100}, {500, 2}, {0, 0}} {
				opts := apiparam.List{Sort: sort, Reverse: reverse, Page: pc[0], Count: pc[1]}
				t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
					got, err := spec.Select(slices.Values(items), opts, false)
					if err != nil {
						t.Fatal(err)
					}
					want := reference(items, opts, pc[1])
					if diff := gocmp.Diff(want, got.DisplayedItems, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("Select(%+v) items differ from a full stable sort (-want +got):\n%s", opts, diff)
					}
					if got.TotalItems != len(items) {
						t.Errorf("Select(%+v).TotalItems = %d; want %d", opts, got.TotalItems, len(items))
					}
				})
			}
		}
	}
}

func TestSelectErrors(t *testing.T) {
	spec := testSpec(100)
	tests := []struct {
		opts  apiparam.List
		csv   bool
		param string
	}{
		{apiparam.List{Sort: "pps"}, false, "sort"},
		{apiparam.List{Count: 101}, false, "count"},
		{apiparam.List{Count: 101}, true, ""}, // CSV downloads are not limited
	}
	for _, tt := range tests {
		_, err := spec.Select(slices.Values(rows(10, 1)), tt.opts, tt.csv)
		e, _ := errors.AsType[*apierr.Error](err)
		switch {
		case tt.param == "" && err != nil:
			t.Errorf("Select(%+v, csv %v) = %v; want no error", tt.opts, tt.csv, err)
		case tt.param != "" && (e == nil || e.Status != 400 || e.Param != tt.param):
			t.Errorf("Select(%+v, csv %v) = %v; want a 400 naming %s", tt.opts, tt.csv, err, tt.param)
		}
	}
}

func TestDefaultCount(t *testing.T) {
	spec := testSpec(100)
	spec.DefaultCount = 10
	items := rows(50, 3)
	p, _ := spec.Select(slices.Values(items), apiparam.List{}, false)
	if len(p.DisplayedItems) != 10 || p.Count != 10 {
		t.Errorf("Select without count shows %d items, count %d; want the default 10", len(p.DisplayedItems), p.Count)
	}
	p, _ = spec.Select(slices.Values(items), apiparam.List{}, true)
	if len(p.DisplayedItems) != 50 {
		t.Errorf("Select for CSV without count shows %d items; want all 50", len(p.DisplayedItems))
	}
}

func TestWriteCSV(t *testing.T) {
	items := []row{
		{IP: netip.MustParseAddr("10.0.0.2"), Bytes: 5, Name: "=cmd|' /C calc'!A0"},
		{IP: netip.MustParseAddr("10.0.0.1"), Bytes: 9, Name: "plain, \"quoted\""},
		{IP: netip.MustParseAddr("10.0.0.3"), Bytes: 1, Name: "-5"},
	}
	p, err := testSpec(0).Select(slices.Values(items), apiparam.List{Sort: "bytes", Reverse: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	// Read it back with the standard CSV reader rather than comparing text.
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading back %q: %v", buf.String(), err)
	}
	want := [][]string{
		{"ip", "bytes", "name"},
		{"10.0.0.1", "9", `plain, "quoted"`},
		{"10.0.0.2", "5", "'=cmd|' /C calc'!A0"},
		{"10.0.0.3", "1", "-5"},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("WriteCSV rows (-want +got):\n%s", diff)
	}
}

// BenchmarkTop10OfMillion is ips_paged?sort=bps&reverse=true&count=10 over
// a million entries handed over as pointers, the way a store should.
func BenchmarkTop10OfMillion(b *testing.B) {
	items := rows(1_000_000, 42)
	ptrs := make([]*row, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	spec := &Spec[*row]{
		Keys:  []Key[*row]{{Name: "bps", Compare: func(a, b *row) int { return cmp.Compare(a.BPS, b.BPS) }}},
		Order: func(a, b *row) int { return a.IP.Compare(b.IP) },
	}
	opts := apiparam.List{Sort: "bps", Reverse: true, Count: 10}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Select(slices.Values(ptrs), opts, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFullSortOfMillion is the same answer by sorting everything, for
// comparison.
func BenchmarkFullSortOfMillion(b *testing.B) {
	items := rows(1_000_000, 42)
	cmpBPS := func(a, b row) int { return cmp.Or(cmp.Compare(b.BPS, a.BPS), a.IP.Compare(b.IP)) }
	b.ReportAllocs()
	for b.Loop() {
		all := slices.Clone(items)
		slices.SortFunc(all, cmpBPS)
		_ = all[:10]
	}
}
