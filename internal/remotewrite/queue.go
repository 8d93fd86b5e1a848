package remotewrite

import "github.com/prometheus/prometheus/model/labels"

// series is one series' labels, shared by all its queued samples so that a
// long outage of the receiver costs a label set per series, not per sample.
type series struct {
	labels labels.Labels
	refs   int // queued or in-flight samples pointing here
}

type entry struct {
	s *series
	t int64
	v float64
}

// queue is a FIFO of samples bounded by max: pushing onto a full queue drops
// the oldest. Not safe for concurrent use; Writer guards it.
type queue struct {
	max     int
	items   []entry
	head    int                  // items[head:] are queued
	byHash  map[uint64][]*series // interned label sets of queued samples
	dropped uint64
}

func (q *queue) len() int { return len(q.items) - q.head }

// intern returns the shared series for l, copying l the first time: the
// appender's caller may reuse the memory of the labels it passed.
func (q *queue) intern(l labels.Labels) *series {
	if q.byHash == nil {
		q.byHash = map[uint64][]*series{}
	}
	h := l.Hash()
	for _, s := range q.byHash[h] {
		if labels.Equal(s.labels, l) {
			return s
		}
	}
	s := &series{labels: l.Copy()}
	q.byHash[h] = append(q.byHash[h], s)
	return s
}

func (q *queue) release(s *series) {
	s.refs--
	if s.refs > 0 {
		return
	}
	h := s.labels.Hash()
	list := q.byHash[h]
	for i, c := range list {
		if c == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(q.byHash, h)
	} else {
		q.byHash[h] = list
	}
}

func (q *queue) push(l labels.Labels, t int64, v float64) {
	s := q.intern(l)
	s.refs++
	q.items = append(q.items, entry{s, t, v})
	q.trim()
}

// trim drops the oldest samples beyond max.
func (q *queue) trim() {
	for q.len() > q.max {
		q.release(q.items[q.head].s)
		q.items[q.head] = entry{}
		q.head++
		q.dropped++
	}
	// Reclaim the consumed front once it is most of the slice.
	if q.head > 1024 && q.head > len(q.items)/2 {
		q.items = append(q.items[:0:0], q.items[q.head:]...)
		q.head = 0
	}
}

// pop removes up to n of the oldest samples. Their series stay interned until
// done is called for them, so a retried batch keeps sharing label sets.
func (q *queue) pop(n int) []entry {
	n = min(n, q.len())
	out := make([]entry, n)
	copy(out, q.items[q.head:q.head+n])
	clear(q.items[q.head : q.head+n])
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return out
}

// done releases the series of samples that were sent or dropped after pop.
func (q *queue) done(batch []entry) {
	for _, e := range batch {
		q.release(e.s)
	}
}

// unpop puts a batch back at the front, oldest first, as when sending stops
// before it was delivered; the bound still holds.
func (q *queue) unpop(batch []entry) {
	rest := q.items[q.head:]
	items := make([]entry, 0, len(batch)+len(rest))
	items = append(append(items, batch...), rest...)
	q.items, q.head = items, 0
	q.trim()
}
