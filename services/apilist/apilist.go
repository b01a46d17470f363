// Package apilist sorts, pages and renders the REST API's lists (the
// *_paged endpoints and sub-lists such as .../peers) in one way: a named
// sort key, reverse, page and count, the items of the page in
// displayedItems next to the total count, or the same rows as CSV for
// csv=true.
//
//	var ips = apilist.Spec[IPRow]{
//		Keys:     []apilist.Key[IPRow]{{Name: "bps", Compare: byBPS}, ...},
//		Order:    byAddr, // default order and tie-breaker
//		MaxCount: 100,
//		Columns:  []apilist.Column[IPRow]{{Name: "ip", Value: ...}, ...},
//	}
//	page, err := ips.Select(store.IPs(), listOpts, csv)
//	return page, err // the router renders JSON, or CSV when csv=true
//
// Select keeps only the best (page+1)*count items while it iterates, so
// the top ten of a million entries cost one pass and no full sort (about
// 10 ms on a 2-core machine, BenchmarkTop10OfMillion). Items are copied
// into every comparison: hand over pointers or small handles, not large
// structs.
package apilist

import (
	"encoding/csv"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
)

// Key is a sort criterion a client names with sort=Name.
type Key[T any] struct {
	Name    string           // lower case, e.g. "bps"
	Compare func(a, b T) int // ascending order
}

// Column is one CSV column.
type Column[T any] struct {
	Name  string // header
	Value func(T) string
}

// Spec describes one list endpoint. Its zero MaxCount means no limit
// (sub-lists, where scripts ask for count=9999).
type Spec[T any] struct {
	Keys []Key[T]
	// Order is the default order and breaks ties between items equal under
	// the chosen key, so that pages never overlap. It must be a total
	// order (for example by address).
	Order        func(a, b T) int
	MaxCount     int // largest count a JSON page may ask for; 0: unlimited
	DefaultCount int // count when none is given; 0: all items
	Columns      []Column[T]
}

// Page is one page of a list, as JSON:
//
//	{"displayedItems": [...], "totalItems": 1234, "page": 0, "count": 10,
//	 "sort": "bps", "reverse": true}
//
// count is the page size that was applied (0 when the page holds all
// items).
type Page[T any] struct {
	DisplayedItems []T    `json:"displayedItems"`
	TotalItems     int    `json:"totalItems"`
	Page           int    `json:"page"`
	Count          int    `json:"count"`
	Sort           string `json:"sort,omitempty"`
	Reverse        bool   `json:"reverse"`

	columns []Column[T]
}

// Select orders the items as opts asks and cuts out the requested page.
// With csv set there is no count limit and the default is every item, so
// that ips_paged?csv=true downloads the whole table.
func (s *Spec[T]) Select(items iter.Seq[T], opts apiparam.List, csv bool) (*Page[T], error) {
	less, err := s.comparator(opts)
	if err != nil {
		return nil, err
	}
	count := opts.Count
	switch {
	case count == 0 && !csv:
		count = s.DefaultCount
	case s.MaxCount > 0 && count > s.MaxCount && !csv:
		return nil, apierr.BadParam("count", "%d is more than the maximum of %d for this list", count, s.MaxCount)
	}
	// apiparam bounds page and count by 2^30, so these cannot overflow.
	keep, first := -1, 0 // -1: keep everything
	if count > 0 {
		keep, first = (opts.Page+1)*count, opts.Page*count
	}
	best, total := topK(items, keep, less)
	shown := best[min(first, len(best)):]
	if count > 0 && len(shown) > count {
		shown = shown[:count]
	}
	return &Page[T]{
		DisplayedItems: slices.Clip(shown),
		TotalItems:     total,
		Page:           opts.Page,
		Count:          count,
		Sort:           opts.Sort,
		Reverse:        opts.Reverse,
		columns:        s.Columns,
	}, nil
}

// NewPage wraps a page that was ordered and cut elsewhere (the statistics
// store sorts its own tables) so that it renders like a Selected one:
// items are the page's items, total the length of the whole list, count
// the page size applied (0: all items).
func NewPage[T any](items []T, total int, opts apiparam.List, count int, columns []Column[T]) *Page[T] {
	if items == nil {
		items = []T{}
	}
	return &Page[T]{
		DisplayedItems: items,
		TotalItems:     total,
		Page:           opts.Page,
		Count:          count,
		Sort:           opts.Sort,
		Reverse:        opts.Reverse,
		columns:        columns,
	}
}

// comparator builds the complete order: the chosen key (reversed if asked),
// then the default order.
func (s *Spec[T]) comparator(opts apiparam.List) (func(a, b T) int, error) {
	if opts.Sort == "" {
		if opts.Reverse {
			return func(a, b T) int { return s.Order(b, a) }, nil
		}
		return s.Order, nil
	}
	for _, k := range s.Keys {
		if k.Name != opts.Sort {
			continue
		}
		byKey, order := k.Compare, s.Order
		if opts.Reverse {
			byKey = func(a, b T) int { return k.Compare(b, a) }
		}
		// Not cmp.Or: it would evaluate the tie-breaker every time.
		return func(a, b T) int {
			if c := byKey(a, b); c != 0 {
				return c
			}
			return order(a, b)
		}, nil
	}
	names := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		names[i] = k.Name
	}
	return nil, apierr.BadParam("sort", "unknown sort key %q (this list sorts by %s)", opts.Sort, strings.Join(names, ", "))
}

// topK returns the first k items in order (all of them when k < 0) and
// how many items there were. It keeps a max-heap of the best k so far,
// whose root is the worst of them.
func topK[T any](items iter.Seq[T], k int, order func(a, b T) int) ([]T, int) {
	total := 0
	var h []T
	for it := range items {
		total++
		switch {
		case k < 0 || len(h) < k:
			h = append(h, it)
			if k >= 0 {
				siftUp(h, len(h)-1, order)
			}
		case k > 0 && order(it, h[0]) < 0:
			h[0] = it
			siftDown(h, 0, order)
		}
	}
	slices.SortFunc(h, order)
	return h, total
}

func siftUp[T any](h []T, i int, order func(a, b T) int) {
	for i > 0 {
		parent := (i - 1) / 2
		if order(h[i], h[parent]) <= 0 {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func siftDown[T any](h []T, i int, order func(a, b T) int) {
	for {
		largest, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && order(h[l], h[largest]) > 0 {
			largest = l
		}
		if r < len(h) && order(h[r], h[largest]) > 0 {
			largest = r
		}
		if largest == i {
			return
		}
		h[i], h[largest] = h[largest], h[i]
		i = largest
	}
}

// WriteCSV writes the page's items as CSV with a header row. It is what
// the router sends for csv=true.
func (p *Page[T]) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(p.columns))
	for i, c := range p.columns {
		row[i] = c.Name
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for _, it := range p.DisplayedItems {
		for i, c := range p.columns {
			row[i] = safeCell(c.Value(it))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// safeCell defuses formula injection: names seen on the wire (DNS, HTTP
// hosts, ...) end up in these files and spreadsheets run a cell starting
// with = + - @ as a formula. Numbers keep their sign.
func safeCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + v
	case '-':
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}
