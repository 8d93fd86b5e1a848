package clustercache

import "sort"

// Names are the clusters with an entry, sorted (for the platform's own
// health metrics).
func (c *Cache) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.entries))
	for n := range c.entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
