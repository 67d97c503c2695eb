package sgx

import (
	"sync"
	"time"
)

// defaultCacheSize bounds each of the verifier's caches: one entry per
// machine (PCK chain) or per FMSPC and collateral issue (TCB info, QE
// identity) seen.
const defaultCacheSize = 1024

// windowCache remembers things whose certificate chain verified, by the
// SHA-256 of the bytes they were verified from, for as long as that chain
// is valid: an entry is used only when the time of a verification lies in
// its window (inclusive, as crypto/x509 judges validity), where the same
// chain verifies again. The trusted roots are fixed for a verifier's life,
// so each verifier has its own caches. It is safe for concurrent use.
type windowCache[V any] struct {
	mu   sync.Mutex
	max  int
	m    map[[32]byte]windowEntry[V]
	hits int // for tests
}

type windowEntry[V any] struct {
	v                   V
	notBefore, notAfter time.Time
}

func newWindowCache[V any](max int) *windowCache[V] {
	if max <= 0 {
		max = defaultCacheSize
	}
	return &windowCache[V]{max: max, m: map[[32]byte]windowEntry[V]{}}
}

// get returns the value for k if now lies in its window.
func (c *windowCache[V]) get(k [32]byte, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Before(e.notBefore) || now.After(e.notAfter) {
		var zero V
		return zero, false
	}
	c.hits++
	return e.v, true
}

// put remembers v under k for the window [notBefore, notAfter]. When the
// cache is full, entries whose window has passed go first, then arbitrary
// ones (map order is random): they are verified again in full when next
// seen.
func (c *windowCache[V]) put(k [32]byte, v V, notBefore, notAfter, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, old := range c.m {
			if now.After(old.notAfter) {
				delete(c.m, k)
			}
		}
	}
	for k := range c.m {
		if len(c.m) < c.max {
			break
		}
		delete(c.m, k)
	}
	c.m[k] = windowEntry[V]{v: v, notBefore: notBefore, notAfter: notAfter}
}

// len returns the number of entries, for tests.
func (c *windowCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
