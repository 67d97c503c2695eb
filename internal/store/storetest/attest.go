package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testNonces(t *testing.T, open func(t *testing.T) store.Store) {
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	t.Run("a nonce is consumed once, by its account, before it expires", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		n := &store.Nonce{Hash: hash("n1"), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
		mustOK(t, f.s.CreateNonce(f.ctx, n))
		if err := f.s.ConsumeNonce(f.ctx, b.ID, n.Hash, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another account consumed it: %v", err)
		}
		if err := f.s.ConsumeNonce(f.ctx, a.ID, n.Hash, t0.Add(5*time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consumed at its expiry: %v", err)
		}
		mustOK(t, f.s.ConsumeNonce(f.ctx, a.ID, n.Hash, t0.Add(time.Minute)))
		if err := f.s.ConsumeNonce(f.ctx, a.ID, n.Hash, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consumed twice: %v", err)
		}
		if err := f.s.ConsumeNonce(f.ctx, a.ID, hash("unknown"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown nonce: %v", err)
		}
	})
	t.Run("of concurrent consumers exactly one succeeds", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		n := &store.Nonce{Hash: hash("race"), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		mustOK(t, f.s.CreateNonce(f.ctx, n))
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f.s.ConsumeNonce(f.ctx, a.ID, n.Hash, t0); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d consumers succeeded", ok)
		}
	})
	t.Run("expired nonces are deleted", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		mustOK(t, f.s.CreateNonce(f.ctx, &store.Nonce{Hash: hash("old"), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0}))
		mustOK(t, f.s.CreateNonce(f.ctx, &store.Nonce{Hash: hash("new"), AccountID: a.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		if n, err := f.s.CountNonces(f.ctx, a.ID, t0); err != nil || n != 1 {
			t.Fatalf("CountNonces = %d, %v; want the unexpired one", n, err)
		}
		n, err := f.s.DeleteExpiredNonces(f.ctx, t0)
		if err != nil || n != 1 {
			t.Fatalf("deleted %d, %v", n, err)
		}
		mustOK(t, f.s.ConsumeNonce(f.ctx, a.ID, hash("new"), t0))
	})
}

func testCertificates(t *testing.T, open func(t *testing.T) store.Store) {
	cert := func(a *store.Account, id, image string, notAfter time.Time) *store.Certificate {
		return &store.Certificate{ID: id, AccountID: a.ID, AppID: newID(), ImageID: image, Serial: id[len(id)-12:],
			CommonName: "api.example.com", DNSNames: []string{"api.example.com"}, URIs: []string{"spiffe://acme/app/api"},
			NotBefore: t0, NotAfter: notAfter, Status: store.CertIssued, DER: []byte{0x30, 1, 2}, CreatedAt: t0}
	}
	t.Run("an account has one CA", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		ca := &store.CA{AccountID: a.ID, CertDER: []byte{1, 2}, KeyCiphertext: []byte{3, 4}, CreatedAt: t0}
		mustOK(t, f.s.CreateCA(f.ctx, ca))
		got, err := f.s.GetCA(f.ctx, a.ID)
		mustOK(t, err)
		if !bytes.Equal(got.CertDER, ca.CertDER) || !bytes.Equal(got.KeyCiphertext, ca.KeyCiphertext) || !got.CreatedAt.Equal(t0) {
			t.Fatalf("CA = %+v", got)
		}
		var ce *store.ConflictError
		if err := f.s.CreateCA(f.ctx, ca); !errors.As(err, &ce) || ce.Constraint != "cas.account" {
			t.Fatalf("second CA: %v", err)
		}
		if _, err := f.s.GetCA(f.ctx, f.account("globex").ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing CA: %v", err)
		}
	})
	t.Run("certificates read back, filter by status, and revoke once", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		img := newID()
		live := cert(a, newID(), img, t0.Add(24*time.Hour))
		old := cert(a, newID(), img, t0.Add(-time.Hour))
		other := cert(a, newID(), newID(), t0.Add(24*time.Hour))
		for _, c := range []*store.Certificate{live, old, other} {
			mustOK(t, f.s.CreateCertificate(f.ctx, c))
		}
		got, err := f.s.GetCertificate(f.ctx, a.ID, live.ID)
		mustOK(t, err)
		if got.Serial != live.Serial || got.DNSNames[0] != "api.example.com" || got.URIs[0] != "spiffe://acme/app/api" ||
			!got.NotAfter.Equal(live.NotAfter) || got.RevokedAt != nil || got.Status != store.CertIssued {
			t.Fatalf("certificate = %+v", got)
		}
		if _, err := f.s.GetCertificate(f.ctx, f.account("globex").ID, live.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another account read it: %v", err)
		}
		list := func(st store.CertificateStatus, image string) int {
			t.Helper()
			cs, err := f.s.ListCertificates(f.ctx, a.ID, store.CertificateFilter{Status: st, ImageID: image, Now: t0}, store.Page{Limit: 10})
			mustOK(t, err)
			return len(cs)
		}
		if list("", "") != 3 || list(store.CertIssued, "") != 2 || list(store.CertExpired, "") != 1 || list(store.CertRevoked, "") != 0 || list("", img) != 2 {
			t.Fatal("filters")
		}
		n, err := f.s.RevokeImageCertificates(f.ctx, a.ID, img, t0, "image deleted")
		if err != nil || n != 1 {
			t.Fatalf("revoked %d, %v (only the unexpired one)", n, err)
		}
		var ce *store.ConflictError
		if err := f.s.RevokeCertificate(f.ctx, a.ID, live.ID, t0, "again"); !errors.As(err, &ce) || ce.Constraint != "certificates.status" {
			t.Fatalf("revoking twice: %v", err)
		}
		if err := f.s.RevokeCertificate(f.ctx, a.ID, newID(), t0, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking a missing certificate: %v", err)
		}
		mustOK(t, f.s.RevokeCertificate(f.ctx, a.ID, other.ID, t0, "key compromise"))
		rev, err := f.s.ListRevokedUnexpired(f.ctx, a.ID, t0)
		mustOK(t, err)
		if len(rev) != 2 || rev[0].RevokedAt == nil || rev[0].Status != store.CertRevoked {
			t.Fatalf("revoked = %+v", rev)
		}
		if rev, _ := f.s.ListRevokedUnexpired(f.ctx, a.ID, t0.Add(48*time.Hour)); len(rev) != 0 {
			t.Fatalf("expired revoked certificates in the CRL: %d", len(rev))
		}
	})
}
