package nitro

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// maxCachedIssuers bounds the issuer cache. AWS signs each parent instance's
// documents under its own instance-level CA, so there is one entry per host
// seen while its CA is valid (a day); only certificates that chain to a
// trusted root get in.
const maxCachedIssuers = 4096

// issuerCache remembers the CA certificates that have signed a document's
// leaf and were found, by a full crypto/x509 verification, to chain to one
// of this Verifier's roots. A warm verification then needs only the leaf's
// own checks: its signature by the cached issuer, its validity at the
// document's time and its critical extensions; the issuer's path to the root
// is not rebuilt.
//
// That is safe because everything crypto/x509 checks on the path above the
// leaf is independent of the leaf and of time, except the validity periods:
// an entry keeps the intersection of the validity periods of the issuer and
// every certificate above it, and is used only for a time inside it. Two
// leaf-dependent checks remain, name constraints and certificate policies;
// chains with either are never cached (constrained), and neither are leaves
// with them. The roots are fixed when the Verifier is made and the cache
// belongs to it, so an entry cannot outlive a change of roots.
type issuerCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*cachedIssuer // by SHA-256 of the issuer's DER
}

type cachedIssuer struct {
	cert *x509.Certificate
	// notBefore and notAfter bound the times at which the whole path from
	// cert to the root is valid.
	notBefore, notAfter time.Time
}

func newIssuerCache() *issuerCache {
	return &issuerCache{m: make(map[[32]byte]*cachedIssuer)}
}

// verifyLeaf reports whether leaf verifies at time at through an issuer in
// the cache. The issuer is looked for among the document's cabundle
// (its last entry, normally). false means "not known": the caller runs the
// full verification, which also explains any failure.
func (c *issuerCache) verifyLeaf(leaf *x509.Certificate, cabundle []*x509.Certificate, at time.Time) bool {
	if constrained(leaf) || len(leaf.UnhandledCriticalExtensions) > 0 || !within(at, leaf.NotBefore, leaf.NotAfter) {
		return false
	}
	for i := len(cabundle) - 1; i >= 0; i-- {
		if !bytes.Equal(leaf.RawIssuer, cabundle[i].RawSubject) {
			continue
		}
		c.mu.RLock()
		e := c.m[sha256.Sum256(cabundle[i].Raw)]
		c.mu.RUnlock()
		if e == nil || !within(at, e.notBefore, e.notAfter) {
			continue
		}
		// CheckSignatureFrom also checks that the issuer may sign
		// certificates (CA, keyCertSign), as crypto/x509 does.
		if leaf.CheckSignatureFrom(e.cert) == nil {
			return true
		}
	}
	return false
}

// add records the issuer of a chain that crypto/x509 verified: chain is
// leaf, issuer, …, root.
func (c *issuerCache) add(chain []*x509.Certificate) {
	if len(chain) < 2 {
		return // the leaf is itself a root: nothing to remember
	}
	e := &cachedIssuer{cert: chain[1]}
	for i, cert := range chain {
		if constrained(cert) {
			return
		}
		if i == 0 {
			continue
		}
		if e.notBefore.IsZero() || cert.NotBefore.After(e.notBefore) {
			e.notBefore = cert.NotBefore
		}
		if e.notAfter.IsZero() || cert.NotAfter.Before(e.notAfter) {
			e.notAfter = cert.NotAfter
		}
	}
	key := sha256.Sum256(chain[1].Raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= maxCachedIssuers {
		// Make room: first the entries that ended before this chain's
		// validity began, then, if none, any one.
		for k, old := range c.m {
			if old.notAfter.Before(e.notBefore) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < maxCachedIssuers {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

// len returns the number of cached issuers (for tests).
func (c *issuerCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// constrained reports whether a certificate carries name constraints or
// policy constraints, mappings or inhibitions: the extensions whose effect
// on a path depends on the certificates below them.
func constrained(c *x509.Certificate) bool {
	return c.PermittedDNSDomainsCritical ||
		len(c.PermittedDNSDomains) > 0 || len(c.ExcludedDNSDomains) > 0 ||
		len(c.PermittedIPRanges) > 0 || len(c.ExcludedIPRanges) > 0 ||
		len(c.PermittedEmailAddresses) > 0 || len(c.ExcludedEmailAddresses) > 0 ||
		len(c.PermittedURIDomains) > 0 || len(c.ExcludedURIDomains) > 0 ||
		c.RequireExplicitPolicy > 0 || c.RequireExplicitPolicyZero ||
		c.InhibitPolicyMapping > 0 || c.InhibitPolicyMappingZero ||
		c.InhibitAnyPolicy > 0 || c.InhibitAnyPolicyZero ||
		len(c.PolicyMappings) > 0
}

// within reports whether t is inside [notBefore, notAfter], as crypto/x509
// judges validity.
func within(t, notBefore, notAfter time.Time) bool {
	return !t.Before(notBefore) && !t.After(notAfter)
}
