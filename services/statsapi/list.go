package statsapi

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Page sizes of the top-level *_paged lists; sub-lists (peers, ports, ...)
// have no limit and show everything unless count is given.
const (
	maxPaged     = 100
	defaultPaged = 10
)

// listOpts describe a list endpoint.
type listOpts struct {
	paged bool // a top-level list: count at most maxPaged, defaultPaged when not given
	// defSort and defReverse apply when the client names no sort key or
	// direction.
	defSort    string
	defReverse bool
	// undirected refuses the rx/tx sort keys, for lists whose counters are
	// not seen from one end (connections are shown from their client).
	undirected bool
}

// listQuery turns sort, reverse, page and count into the store's query.
// For csv=true the page is every item unless count is given.
func (c *call) listQuery(o listOpts) (stats.ListQuery, apiparam.List, error) {
	l, err := apiparam.ParseList(c.q)
	if err != nil {
		return stats.ListQuery{}, l, err
	}
	if !c.q.Has("sort") {
		l.Sort = o.defSort
	}
	if !c.q.Has("reverse") {
		l.Reverse = o.defReverse
	}
	key, ok := stats.ParseSort(l.Sort)
	if !ok || (o.undirected && directional(key)) {
		return stats.ListQuery{}, l, apierr.BadParam("sort", "unknown sort key %s (this list sorts by %s)", shorten(l.Sort), strings.Join(sortNames(o.undirected), ", "))
	}
	count := l.Count
	switch {
	case c.csv:
	case o.paged && count == 0:
		count = defaultPaged
	case o.paged && count > maxPaged:
		return stats.ListQuery{}, l, apierr.BadParam("count", "%d is more than the maximum of %d for this list", count, maxPaged)
	}
	return stats.ListQuery{Query: c.time, Group: c.group, Sort: key, Reverse: l.Reverse, Page: l.Page, Count: count}, l, nil
}

func directional(k stats.SortKey) bool {
	switch k {
	case stats.SortRxBytes, stats.SortTxBytes, stats.SortRxPackets, stats.SortTxPackets,
		stats.SortRxBps, stats.SortTxBps, stats.SortRxPps, stats.SortTxPps:
		return true
	}
	return false
}

func sortNames(undirected bool) []string {
	names := stats.SortNames()
	if undirected {
		names = slices.DeleteFunc(names, func(n string) bool {
			k, _ := stats.ParseSort(n)
			return directional(k)
		})
	}
	return names
}

// selectPage sorts and pages a list the handler built itself (a few
// hundred items at most: interfaces, aggregates) with the same sort keys
// and meaning as the store's lists. order is the default order and
// tie-breaker.
func selectPage[T any](c *call, items []*T, fig func(*T) *Figures, order func(a, b *T) int, o listOpts, cols []apilist.Column[*T]) (*apilist.Page[*T], error) {
	lq, l, err := c.listQuery(o)
	if err != nil {
		return nil, err
	}
	spec := apilist.Spec[*T]{Order: order, Columns: cols}
	if lq.Sort != stats.SortNone {
		spec.Keys = []apilist.Key[*T]{{Name: lq.Sort.String(), Compare: figureOrder(lq.Sort, c.time, fig)}}
	}
	l.Sort, l.Count = lq.Sort.String(), lq.Count
	return spec.Select(slices.Values(items), l, c.csv)
}

// figureOrder compares items by a sort key with the store's meaning:
// counter keys read the interval when one is selected and all time
// otherwise; rate keys the interval's average per second (the last second
// without an interval).
func figureOrder[T any](key stats.SortKey, q stats.Query, fig func(*T) *Figures) func(a, b *T) int {
	selected := q.Start != 0 || q.End != 0
	metric := func(t *T) uint64 {
		f := fig(t)
		switch key {
		case stats.SortFirstSeen:
			return uint64(f.FirstSeen)
		case stats.SortLastSeen:
			return uint64(f.LastSeen)
		}
		c := f.AllTime
		switch key {
		case stats.SortBps, stats.SortRxBps, stats.SortTxBps, stats.SortPps, stats.SortRxPps, stats.SortTxPps:
			c = f.IntervalPerSecond
		default:
			if selected {
				c = f.Interval
			}
		}
		switch key {
		case stats.SortBytes, stats.SortBps:
			return byteSum(c)
		case stats.SortPackets, stats.SortPps:
			return packetSum(c)
		case stats.SortRxPackets, stats.SortRxPps:
			return c[0]
		case stats.SortRxBytes, stats.SortRxBps:
			return c[1]
		case stats.SortTxPackets, stats.SortTxPps:
			return c[2]
		}
		return c[3]
	}
	return func(a, b *T) int { return cmp.Compare(metric(a), metric(b)) }
}

// entities is a collection of one series of the store: how a path id
// becomes a key, how an entity renders and which entities belong to it.
type entities[K stats.Key, A, T any] struct {
	what    string // for messages: "IP"
	param   string // path parameter: "ip"
	series  func(*engine.Stats) *stats.Series[K, A]
	key     func(id string, group uint16) (K, error)
	render  func(c *call, e *stats.Entity[K, A]) *T
	filter  stats.Filter[K, A] // nil: every entity
	columns []apilist.Column[*T]
	opts    listOpts

	// match, when set, gives the list a filter= parameter (textfilter.go).
	match func(f *textFilter) stats.Filter[K, A]
}

// register serves one entity at path/:param and the list at list.
func (es *entities[K, A, T]) register(a *API, path, list string) {
	a.get(path+"/:"+es.param, es.one)
	a.get(list, es.list)
}

// lookup finds the entity a path names.
func (es *entities[K, A, T]) lookup(c *call, q stats.Query) (*stats.Entity[K, A], string, error) {
	id := c.param(es.param)
	k, err := es.key(id, c.group)
	if err != nil {
		return nil, id, err
	}
	e, ok := es.series(c.st).Get(k, q)
	if !ok || (es.filter != nil && !es.filter(&e.Key, &e.Attr)) {
		return nil, id, notFound(es.what, id, c.group)
	}
	return &e, id, nil
}

func (es *entities[K, A, T]) one(c *call) (any, error) {
	e, _, err := es.lookup(c, c.time)
	if err != nil {
		return nil, err
	}
	return es.render(c, e), nil
}

func (es *entities[K, A, T]) list(c *call) (any, error) {
	lq, l, err := c.listQuery(es.opts)
	if err != nil {
		return nil, err
	}
	filter := es.filter
	if es.match != nil {
		tf, err := parseTextFilter(c.q)
		if err != nil {
			return nil, err
		}
		if tf != nil {
			filter = andFilter(filter, es.match(tf))
		}
	}
	items, total := es.series(c.st).List(lq, filter)
	return renderPage(c, items, total, l, lq, es.render, es.columns), nil
}

// renderPage renders one page of store entities.
func renderPage[K stats.Key, A, T any](c *call, items []stats.Entity[K, A], total int, l apiparam.List, lq stats.ListQuery,
	render func(*call, *stats.Entity[K, A]) *T, cols []apilist.Column[*T]) *apilist.Page[*T] {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = render(c, &items[i])
	}
	l.Sort = lq.Sort.String()
	return apilist.NewPage(out, total, l, lq.Count, cols)
}

// exists reports 404 unless the series has k: the sub-lists of an entity
// (an IP's peers) are only there for an entity the store knows.
func exists[K stats.Key, A any](s *stats.Series[K, A], k K, what, id string) error {
	if _, ok := s.Get(k, stats.Query{SkipHistory: true}); !ok {
		return notFound(what, id, k.GroupID())
	}
	return nil
}

// shorten quotes a client's value for a message without echoing a huge
// string back.
func shorten(v string) string {
	const max = 40
	if len(v) > max {
		v = v[:max] + "..."
	}
	return strconv.Quote(v)
}
