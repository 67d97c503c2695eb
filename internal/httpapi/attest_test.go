package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/store"
)

func newCSR(t *testing.T, key any) (string, []byte) {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "workload"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), csr.RawSubjectPublicKeyInfo
}

func p256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// attestation is one workload attempt: a challenge, a CSR and fake evidence.
type attestation struct {
	h        *harness
	account  string
	nonce    string
	csr      string
	spki     []byte
	evidence map[string]any
	body     map[string]any
}

func (h *harness) newAttestation(account, measurement string, vmpl int) *attestation {
	h.t.Helper()
	ch := h.must(201, "POST", "/v1/attest/challenge", "", map[string]string{"account_id": account})
	nonce, _ := base64.StdEncoding.DecodeString(ch["nonce"].(string))
	csr, spki := newCSR(h.t, p256(h.t))
	b := attest.Binding(nonce, spki)
	at := &attestation{h: h, account: account, nonce: ch["nonce"].(string), csr: csr, spki: spki,
		evidence: map[string]any{"measurement": measurement, "vmpl": vmpl, "report_data": hex.EncodeToString(b[:])}}
	at.body = map[string]any{"account_id": account, "platform": "sev_snp", "nonce": at.nonce, "csr": csr, "evidence": at.evidence}
	return at
}

func (a *attestation) send() response { return a.h.do("POST", "/v1/attest", "", a.body) }

// rejected checks a 422 attestation_failed with the reason.
func rejected(t *testing.T, r response, reason string) {
	t.Helper()
	if r.Status != 422 {
		t.Fatalf("status %d, want 422 (%s): %s", r.Status, reason, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	if e["code"] != "attestation_failed" || e["reason"] != reason {
		t.Fatalf("error %v, want reason %s", e, reason)
	}
}

func TestAttestationIssuesACertificate(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	app := h.must(201, "POST", base+"/apps", w.admin, map[string]any{"name": "pay api", "type": "sev_snp",
		"domains": []string{"api.example.com", "*.api.example.com"}, "certificate": map[string]any{"validity_days": 7}})
	h.must(200, "POST", base+"/tasks/"+app["pending_domain_task_id"].(string)+"/approve", w.admin, nil)
	meas := hexOf(0x42, 48)
	img := h.must(201, "POST", base+"/apps/"+app["app_id"].(string)+"/images", w.admin, map[string]any{"version": "1", "measurement": meas, "vmpl": 1})

	at := h.newAttestation(w.accountID, meas, 1)
	rejected(t, at.send(), "image_not_approved") // spends the nonce
	h.must(200, "POST", base+"/tasks/"+img["task_id"].(string)+"/approve", w.admin, nil)
	rejected(t, at.send(), "nonce_invalid") // a nonce is single use

	at = h.newAttestation(w.accountID, meas, 1)
	res := h.must(200, "POST", "/v1/attest", "", at.body)
	if res["image_id"] != img["image_id"] || res["app_id"] != app["app_id"] || len(res["chain"].([]any)) != 1 {
		t.Fatalf("response %v", res)
	}
	block, _ := pem.Decode([]byte(res["certificate"].(string)))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := h.must(200, "GET", base+"/ca", "", nil)["certificate"].(string) // public
	if caPEM != res["chain"].([]any)[0] {
		t.Fatal("the chain is not the account's CA")
	}
	cb, _ := pem.Decode([]byte(caPEM))
	caCert, _ := x509.ParseCertificate(cb.Bytes)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "x.api.example.com", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("leaf does not verify for %v: %v", usage, err)
		}
	}
	if caCert.PublicKeyAlgorithm != x509.ECDSA || caCert.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() || !caCert.IsCA {
		t.Fatal("the CA is not an ECDSA P-256 root")
	}
	if leaf.Subject.CommonName != "api.example.com" || strings.Join(leaf.DNSNames, ",") != "api.example.com,*.api.example.com" ||
		len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://acme/app/pay%20api" || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Fatalf("leaf CN %q SANs %v URIs %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.URIs)
	}
	if d := leaf.NotAfter.Sub(time.Now()); d < 6*24*time.Hour || d > 7*24*time.Hour+time.Minute {
		t.Fatalf("validity %v, want 7 days", d)
	}
	if string(leaf.RawSubjectPublicKeyInfo) != string(at.spki) {
		t.Fatal("the leaf does not certify the CSR's key")
	}

	certs := h.must(200, "GET", base+"/certificates?image_id="+img["image_id"].(string), w.tokens[store.RoleReader], nil)["items"].([]any)
	if len(certs) != 1 || certs[0].(map[string]any)["status"] != "issued" || certs[0].(map[string]any)["certificate_id"] != res["certificate_id"] {
		t.Fatalf("certificates %v", certs)
	}
	// The three attempts since the world was made (which attested once).
	actions := ""
	for _, e := range h.must(200, "GET", base+"/audit?limit=4", w.admin, nil)["items"].([]any) {
		actions += e.(map[string]any)["action"].(string) + " "
	}
	if actions != "certificate.issue attestation.accept attestation.reject task.resolve " {
		t.Fatalf("audit %s", actions)
	}
	if r := h.do("GET", base+"/audit?action=attestation.reject&limit=10", w.admin, nil); len(r.JSON(t)["items"].([]any)) != 2 {
		t.Fatalf("rejections %s", r.Body)
	}

	t.Run("revocation puts the serial in the CRL", func(t *testing.T) {
		id := res["certificate_id"].(string)
		if r := h.do("POST", base+"/certificates/"+id+"/revoke", w.tokens[store.RoleReader], nil); r.Status != 403 {
			t.Fatalf("a reader revoked: %d", r.Status)
		}
		c := h.must(200, "POST", base+"/certificates/"+id+"/revoke", w.tokens[store.RoleWriter], map[string]string{"reason": "key compromise"})
		if c["status"] != "revoked" || c["revocation_reason"] != "key compromise" {
			t.Fatalf("revoked %v", c)
		}
		if r := h.do("POST", base+"/certificates/"+id+"/revoke", w.admin, nil); r.Status != 409 {
			t.Fatalf("revoking twice: %d", r.Status)
		}
		r := h.do("GET", base+"/ca/crl", "", nil)
		crl, err := x509.ParseRevocationList(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("CRL: %v %q", err, r.Header.Get("Content-Type"))
		}
		if err := crl.CheckSignatureFrom(caCert); err != nil || crl.NextUpdate.Before(time.Now()) ||
			len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Fatalf("CRL %+v: %v", crl, err)
		}
	})
	t.Run("deleting an image revokes its certificates and nothing attests as it", func(t *testing.T) {
		at := h.newAttestation(w.accountID, meas, 1)
		res := h.must(200, "POST", "/v1/attest", "", at.body)
		h.must(204, "DELETE", base+"/images/"+img["image_id"].(string), w.admin, nil)
		c := h.must(200, "GET", base+"/certificates/"+res["certificate_id"].(string), w.admin, nil)
		if c["status"] != "revoked" {
			t.Fatalf("certificate of a deleted image: %v", c)
		}
		rejected(t, h.newAttestation(w.accountID, meas, 1).send(), "no_matching_image")
	})
}

func TestAttestationRejections(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	// app-a (sev_snp) has image "1" with measurement 11…; approve it.
	h.must(200, "POST", base+"/tasks/"+w.taskID+"/approve", w.admin, nil)
	meas := strings.Repeat("11", 48)
	good := func() *attestation { return h.newAttestation(w.accountID, meas, 0) }

	cases := []struct {
		name   string
		mutate func(a *attestation)
		reason string
	}{
		{"an unknown nonce", func(a *attestation) { a.body["nonce"] = base64.StdEncoding.EncodeToString(make([]byte, 32)) }, "nonce_invalid"},
		{"a nonce that is not 32 bytes", func(a *attestation) { a.body["nonce"] = "AAAA" }, "nonce_invalid"},
		{"a nonce of another account", func(a *attestation) {
			ch := h.must(201, "POST", "/v1/attest/challenge", "", map[string]string{"account_id": w.otherAccountID})
			a.body["nonce"] = ch["nonce"]
		}, "nonce_invalid"},
		{"evidence whose signature does not verify", func(a *attestation) { a.evidence["forged"] = true }, "signature_invalid"},
		{"evidence for another key", func(a *attestation) { a.evidence["report_data"] = hexOf(7, 32) }, "binding_mismatch"},
		{"a debug workload", func(a *attestation) { a.evidence["debug"] = true }, "debug_not_allowed"},
		{"an unknown measurement", func(a *attestation) { a.evidence["measurement"] = hexOf(0x99, 48) }, "no_matching_image"},
		{"a known measurement at another VMPL", func(a *attestation) { a.evidence["vmpl"] = 2 }, "vmpl_mismatch"},
		{"another app than the image's", func(a *attestation) {
			other := h.must(201, "POST", base+"/apps", w.admin, map[string]any{"name": "other-" + a.nonce[:6], "type": "sev_snp"})
			a.body["app_id"] = other["app_id"]
		}, "no_matching_image"},
		{"another account's image", func(a *attestation) {
			// The other account has an approved-or-not image with the same measurement;
			// evidence for this account must not attest as it.
			a.evidence["measurement"] = hexOf(0x55, 48)
			h.must(201, "POST", "/v1/accounts/"+w.otherAccountID+"/apps/"+w.otherAppID+"/images", w.admin,
				map[string]any{"version": "x" + a.nonce[:6], "measurement": hexOf(0x55, 48)})
		}, "no_matching_image"},
	}
	for _, c := range cases {
		t.Run("rejects "+c.name, func(t *testing.T) {
			a := good()
			c.mutate(a)
			rejected(t, a.send(), c.reason)
		})
	}
	t.Run("accepts the good evidence", func(t *testing.T) {
		h.must(200, "POST", "/v1/attest", "", good().body)
	})
	t.Run("an expired nonce is refused", func(t *testing.T) {
		a := good()
		saved := h.api.attest
		h.api.attest = mustAttestAt(t, h, time.Now().Add(6*time.Minute))
		defer func() { h.api.attest = saved }()
		rejected(t, a.send(), "nonce_invalid")
	})
	t.Run("apps without certificates get certificate_disabled", func(t *testing.T) {
		h.must(200, "PATCH", base+"/apps/"+w.appID, w.admin, map[string]any{"certificate": map[string]any{"enabled": false}})
		defer h.must(200, "PATCH", base+"/apps/"+w.appID, w.admin, map[string]any{"certificate": map[string]any{"enabled": true}})
		rejected(t, good().send(), "certificate_disabled")
	})
	t.Run("a GPU image without GPU evidence is refused", func(t *testing.T) {
		img := h.must(201, "POST", base+"/apps/"+w.appID+"/images", w.admin, map[string]any{"version": "gpu", "measurement": hexOf(0x66, 48), "gpu": "ignored"})
		h.must(200, "POST", base+"/tasks/"+img["task_id"].(string)+"/approve", w.admin, nil)
		rejected(t, h.newAttestation(w.accountID, hexOf(0x66, 48), 0).send(), "gpu_evidence_missing")
		a := h.newAttestation(w.accountID, hexOf(0x66, 48), 0)
		a.evidence["gpu"] = map[string]any{"token": "eyJhbGciOiJFUzM4NCJ9.eyJ4Ijp0cnVlfQ.c2ln"} // gpu: ignored checks presence only
		h.must(200, "POST", "/v1/attest", "", a.body)
	})
	t.Run("bad requests are 400 with the field, and 404 for an unknown account", func(t *testing.T) {
		for field, mutate := range map[string]func(a *attestation){
			"csr":      func(a *attestation) { a.body["csr"] = "not a csr" },
			"platform": func(a *attestation) { a.body["platform"] = "tdx" },
			"evidence": func(a *attestation) { delete(a.body, "evidence") },
		} {
			a := good()
			mutate(a)
			r := a.send()
			if _, f := r.errorOf(t); r.Status != 400 || f != field {
				t.Errorf("%s: %d %s", field, r.Status, r.Body)
			}
		}
		a := good()
		a.body["account_id"] = "01a22850-0000-7000-8000-000000000000"
		if r := a.send(); r.Status != 404 {
			t.Errorf("unknown account: %d", r.Status)
		}
		if r := h.do("POST", "/v1/attest/challenge", "", map[string]string{"account_id": "01a22850-0000-7000-8000-000000000000"}); r.Status != 404 {
			t.Errorf("challenge for an unknown account: %d", r.Status)
		}
		if r := h.do("GET", "/v1/accounts/01a22850-0000-7000-8000-000000000000/ca", "", nil); r.Status != 404 {
			t.Errorf("CA of an unknown account: %d", r.Status)
		}
	})
}

func TestCSRKeysAreLimited(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	h.must(200, "POST", "/v1/accounts/"+w.accountID+"/tasks/"+w.taskID+"/approve", w.admin, nil)
	meas := strings.Repeat("11", 48)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, c := range []struct {
		name string
		key  any
		ok   bool
	}{{"P-384", p384, true}, {"RSA 2048", rsa2048, true}, {"P-521", p521, false}, {"RSA 1024", rsa1024, false}} {
		t.Run(c.name, func(t *testing.T) {
			a := h.newAttestation(w.accountID, meas, 0)
			csr, spki := newCSR(t, c.key)
			nonce, _ := base64.StdEncoding.DecodeString(a.nonce)
			b := attest.Binding(nonce, spki)
			a.body["csr"], a.evidence["report_data"] = csr, hex.EncodeToString(b[:])
			r := a.send()
			if c.ok && r.Status != 200 || !c.ok && r.Status != 400 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
	}
	t.Run("a CSR whose signature does not verify is refused", func(t *testing.T) {
		a := h.newAttestation(w.accountID, meas, 0)
		b, _ := pem.Decode([]byte(a.csr))
		b.Bytes[len(b.Bytes)-3] ^= 1
		a.body["csr"] = string(pem.EncodeToMemory(b))
		if r := a.send(); r.Status != 400 {
			t.Fatalf("status %d", r.Status)
		}
	})
}
