package sevsnp

import (
	"sync"
	"time"
)

// defaultCacheSize bounds the verified-VCEK cache: one entry per machine
// and TCB seen, each a parsed certificate.
const defaultCacheSize = 1024

// cacheKey names a chain verification: the VCEK (by the SHA-256 of its DER)
// and the product line the report names. The trusted roots are fixed for a
// Verifier's life, so each Verifier has its own cache.
type cacheKey struct {
	vcek        [32]byte
	productLine string
}

// vcekCache remembers VCEKs whose chain verified, for as long as the chain
// is valid. It is safe for concurrent use.
type vcekCache struct {
	mu   sync.Mutex
	max  int
	m    map[cacheKey]*verifiedVCEK
	hits int // for tests
}

func newVCEKCache(max int) *vcekCache {
	if max <= 0 {
		max = defaultCacheSize
	}
	return &vcekCache{max: max, m: map[cacheKey]*verifiedVCEK{}}
}

// get returns the entry for k if now lies in its chain's validity window
// (inclusive, as crypto/x509 judges validity), or nil.
func (c *vcekCache) get(k cacheKey, now time.Time) *verifiedVCEK {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil || now.Before(e.notBefore) || now.After(e.notAfter) {
		return nil
	}
	c.hits++
	return e
}

func (c *vcekCache) put(k cacheKey, e *verifiedVCEK, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, old := range c.m {
			if now.After(old.notAfter) {
				delete(c.m, k)
			}
		}
	}
	// Still full: drop an arbitrary entry (map order is random); it is
	// verified again in full when next seen.
	for k := range c.m {
		if len(c.m) < c.max {
			break
		}
		delete(c.m, k)
	}
	c.m[k] = e
}
