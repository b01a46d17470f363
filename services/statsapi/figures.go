package statsapi

import (
	"strconv"

	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Counters is the REST form of traffic counters:
// [rxPackets, rxBytes, txPackets, txBytes].
type Counters = [4]uint64

// Figures are the counters every entity with traffic carries. Counters
// are seen from the entity: tx is what it sent, rx what it received;
// entities that are not endpoints (a VLAN, a protocol) count what they
// carried as rx.
type Figures struct {
	FirstSeen         int64    `json:"firstSeen"` // Unix seconds
	LastSeen          int64    `json:"lastSeen"`
	AllTime           Counters `json:"allTime"`
	LastSecond        Counters `json:"lastSecond"`
	Interval          Counters `json:"interval"`          // = lastSecond without starttime/endtime
	IntervalPerSecond Counters `json:"intervalPerSecond"` // = lastSecond without starttime/endtime
	History           *History `json:"history,omitempty"` // left out with skiphistorydata=true
}

// History is the graph data of an entity: datasets[i] holds the counters
// of the timespan seconds from starttime + i*timespan.
type History struct {
	Starttime int64      `json:"starttime"`
	Endtime   int64      `json:"endtime"` // exclusive
	Timespan  int64      `json:"timespan"`
	Datasets  []Counters `json:"datasets"`
}

func figuresOf(f *stats.Figures) Figures {
	out := Figures{
		FirstSeen:         f.FirstSeen,
		LastSeen:          f.LastSeen,
		AllTime:           f.AllTime.Array(),
		LastSecond:        f.LastSecond.Array(),
		Interval:          f.Interval.Array(),
		IntervalPerSecond: f.IntervalPerSecond.Array(),
	}
	if h := f.History; h != nil {
		out.History = &History{
			Starttime: h.Start,
			Endtime:   h.Start + h.Step*int64(len(h.Points)),
			Timespan:  h.Step,
			Datasets:  make([]Counters, len(h.Points)),
		}
		for i, p := range h.Points {
			out.History.Datasets[i] = p.Array()
		}
	}
	return out
}

// add sums o into f: the counters, the seen range and (when both have one
// of the same shape) the history. It adds up one thing that the store
// keeps as several entities (an MPLS label at several depths, an
// EtherType over all MACs).
func (f *Figures) add(o *Figures) {
	f.FirstSeen = min(f.FirstSeen, o.FirstSeen)
	f.LastSeen = max(f.LastSeen, o.LastSeen)
	addCounters(&f.AllTime, &o.AllTime)
	addCounters(&f.LastSecond, &o.LastSecond)
	addCounters(&f.Interval, &o.Interval)
	addCounters(&f.IntervalPerSecond, &o.IntervalPerSecond)
	if f.History != nil && o.History != nil && f.History.Starttime == o.History.Starttime &&
		f.History.Timespan == o.History.Timespan && len(f.History.Datasets) == len(o.History.Datasets) {
		for i := range f.History.Datasets {
			addCounters(&f.History.Datasets[i], &o.History.Datasets[i])
		}
	}
}

func addCounters(c, o *Counters) {
	for i := range c {
		c[i] += o[i]
	}
}

// bytes and packets are rx plus tx.
func bytes(c Counters) uint64   { return c[1] + c[3] }
func packets(c Counters) uint64 { return c[0] + c[2] }

var counterNames = [4]string{"RxPackets", "RxBytes", "TxPackets", "TxBytes"}

// figureColumns are the CSV columns of the figures: first and last seen,
// the all-time and the interval counters.
func figureColumns[T any](fig func(*T) *Figures) []apilist.Column[*T] {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	cols := []apilist.Column[*T]{
		{Name: "firstSeen", Value: func(t *T) string { return strconv.FormatInt(fig(t).FirstSeen, 10) }},
		{Name: "lastSeen", Value: func(t *T) string { return strconv.FormatInt(fig(t).LastSeen, 10) }},
	}
	for i, n := range counterNames {
		cols = append(cols, apilist.Column[*T]{Name: "allTime" + n, Value: func(t *T) string { return u(fig(t).AllTime[i]) }})
	}
	for i, n := range counterNames {
		cols = append(cols, apilist.Column[*T]{Name: "interval" + n, Value: func(t *T) string { return u(fig(t).Interval[i]) }})
	}
	return cols
}
