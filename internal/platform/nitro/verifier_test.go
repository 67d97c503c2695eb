package nitro

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func newVerifier(t testing.TB, now time.Time, roots ...*x509.Certificate) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{Roots: roots, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func evidence(doc []byte) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"document": base64.StdEncoding.EncodeToString(doc)})
	return b
}

// wantReject checks that err is a Rejected error with the given reason whose
// message names the verifier and contains msg.
func wantReject(t *testing.T, err error, reason, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a %s rejection", reason)
	}
	if errs.KindOf(err) != errs.Rejected {
		t.Errorf("kind = %v, want rejected (%v)", errs.KindOf(err), err)
	}
	if r := platform.ReasonOf(err); r != reason {
		t.Errorf("reason = %q, want %q (%v)", r, reason, err)
	}
	if !strings.HasPrefix(err.Error(), "nitro: ") || !strings.Contains(err.Error(), msg) {
		t.Errorf("error = %q, want it to start with \"nitro: \" and contain %q", err, msg)
	}
}

func TestVerifyRealSample(t *testing.T) {
	v := newVerifier(t, time.Now()) // the embedded AWS root only
	proper := readTestdata(t, "request_proper.bin")
	var userData [32]byte
	copy(userData[:], mustHex(t, realUserData))

	tests := []struct {
		name    string
		doc     []byte
		opts    platform.Options
		reason  string // "" to accept
		wantMsg string
	}{
		{"verifies at its own timestamp with the embedded AWS root", proper, platform.Options{}, "", ""},
		{"verifies at a time inside its leaf's validity", proper, platform.Options{Now: time.Date(2021, 9, 9, 13, 0, 0, 0, time.UTC)}, "", ""},
		{"rejects a copy with one byte of PCR0 changed", readTestdata(t, "tampered_signature.bin"), platform.Options{}, platform.ReasonSignatureInvalid, "COSE signature does not verify"},
		{"rejects a copy with a changed certificate", readTestdata(t, "tampered_certificate.bin"), platform.Options{}, platform.ReasonMalformed, "certificate is not a DER certificate"},
		{"rejects it in 2030, when its certificates have expired", proper, platform.Options{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, platform.ReasonSignatureInvalid, "certificate chain does not verify to a trusted Nitro root"},
		{"rejects it after its leaf expired", proper, platform.Options{Now: time.Date(2021, 9, 9, 13, 19, 21, 0, time.UTC)}, platform.ReasonSignatureInvalid, "expired"},
		{"rejects it before it was made", proper, platform.Options{Now: time.Date(2021, 9, 9, 10, 0, 0, 0, time.UTC)}, platform.ReasonSignatureInvalid, "after the verification time"},
		// Its user_data is 64 bytes: a 32-byte binding followed by zeros.
		{"rejects its user_data as a binding: it is 64 bytes", proper, platform.Options{Binding: &userData}, platform.ReasonBindingMismatch, "user_data is not the request's binding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), evidence(tc.doc), tc.opts)
			if tc.reason != "" {
				wantReject(t, err, tc.reason, tc.wantMsg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRealClaims(t, c)
		})
	}
}

func checkRealClaims(t *testing.T, c *platform.Claims) {
	t.Helper()
	if c.Platform != platform.Nitro {
		t.Errorf("platform = %q", c.Platform)
	}
	if !c.Debug {
		t.Error("debug = false; the sample's PCR0 is all zeros (a debug-mode enclave)")
	}
	if c.ModuleID != realModuleID {
		t.Errorf("module_id = %q, want %q", c.ModuleID, realModuleID)
	}
	if c.Timestamp == nil || !c.Timestamp.Equal(realTimestamp) {
		t.Errorf("timestamp = %v, want %s", c.Timestamp, realTimestamp)
	}
	if len(c.PCRs) != 16 {
		t.Errorf("%d PCRs, want 16", len(c.PCRs))
	}
	for i, want := range map[int]string{0: zeroPCR, 1: zeroPCR, 2: zeroPCR, 3: zeroPCR, 4: realPCR4, 8: zeroPCR} {
		if c.PCRs[i] != want {
			t.Errorf("PCR%d = %s, want %s", i, c.PCRs[i], want)
		}
	}
	if c.UserData != realUserData {
		t.Errorf("user_data = %s, want %s", c.UserData, realUserData)
	}
	if c.Extra["nonce"] != realNonce || c.Extra["public_key"] != "" {
		t.Errorf("extra = %v, want the nonce %s and no public_key", c.Extra, realNonce)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyGenerated(t *testing.T) {
	now := time.Now().UTC()
	ca, attacker := newCA(t), newCA(t)
	binding := [32]byte{1, 2, 3}
	other := [32]byte{9}
	ts := now.Add(-time.Minute)

	tests := []struct {
		name    string
		ca      *platformtest.NitroCA // signs the document; nil means ca
		doc     platformtest.NitroDoc
		opts    platform.Options
		reason  string // "" to accept
		wantMsg string
		check   func(t *testing.T, c *platform.Claims)
	}{
		{
			name: "accepts a document signed under the trusted root",
			doc:  platformtest.NitroDoc{Timestamp: ts, UserData: binding[:], Nonce: []byte("nonce"), PublicKey: []byte("key")},
			opts: platform.Options{Binding: &binding},
			check: func(t *testing.T, c *platform.Claims) {
				if c.Debug || c.ModuleID == "" || !c.Timestamp.Equal(ts.Truncate(time.Millisecond)) || len(c.PCRs) != 16 {
					t.Errorf("claims = %+v", c)
				}
				if c.PCRs[1] != hex.EncodeToString(platformtest.NitroPCR(1)) {
					t.Errorf("PCR1 = %s", c.PCRs[1])
				}
				if c.UserData != hex.EncodeToString(binding[:]) || c.Extra["nonce"] != hex.EncodeToString([]byte("nonce")) || c.Extra["public_key"] != hex.EncodeToString([]byte("key")) {
					t.Errorf("user_data = %s, extra = %v", c.UserData, c.Extra)
				}
			},
		},
		{
			name: "accepts a tagged COSE_Sign1",
			doc:  platformtest.NitroDoc{Timestamp: ts, Tagged: true},
		},
		{
			name: "accepts a document without a binding when none is asked for",
			doc:  platformtest.NitroDoc{Timestamp: ts},
			check: func(t *testing.T, c *platform.Claims) {
				if c.UserData != "" || c.Extra != nil {
					t.Errorf("user_data = %q, extra = %v; want none", c.UserData, c.Extra)
				}
			},
		},
		{
			name: "accepts a debug-mode document and reports it as debug",
			doc:  platformtest.NitroDoc{Timestamp: ts, PCRs: map[int][]byte{0: make([]byte, 48), 1: make([]byte, 48), 2: make([]byte, 48)}},
			check: func(t *testing.T, c *platform.Claims) {
				if !c.Debug || c.PCRs[0] != zeroPCR {
					t.Errorf("debug = %v, PCR0 = %s", c.Debug, c.PCRs[0])
				}
			},
		},
		{
			name: "ignores payload members it does not know",
			doc:  platformtest.NitroDoc{Timestamp: ts, Extra: map[string]any{"future_member": []byte{1}}},
		},
		{
			name:    "rejects a document from another CA whose root has the same name",
			ca:      attacker,
			doc:     platformtest.NitroDoc{Timestamp: ts, UserData: binding[:]},
			opts:    platform.Options{Binding: &binding},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "certificate chain does not verify to a trusted Nitro root",
		},
		{
			name:    "rejects a cabundle whose first entry is an attacker's self-signed root",
			ca:      attacker,
			doc:     platformtest.NitroDoc{Timestamp: ts, CABundle: [][]byte{attacker.Root().Raw, ca.Root().Raw, ca.Intermediate().Raw, attacker.Intermediate().Raw}},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "certificate chain does not verify to a trusted Nitro root",
		},
		{
			name:    "rejects a leaf from another CA shown with the trusted CA's bundle",
			ca:      attacker,
			doc:     platformtest.NitroDoc{Timestamp: ts, CABundle: [][]byte{ca.Root().Raw, ca.Intermediate().Raw}},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "certificate chain does not verify to a trusted Nitro root",
		},
		{
			name:    "rejects a document whose user_data is not the binding",
			doc:     platformtest.NitroDoc{Timestamp: ts, UserData: other[:]},
			opts:    platform.Options{Binding: &binding},
			reason:  platform.ReasonBindingMismatch,
			wantMsg: "user_data is not the request's binding",
		},
		{
			name:    "rejects a document without user_data when a binding is asked for",
			doc:     platformtest.NitroDoc{Timestamp: ts},
			opts:    platform.Options{Binding: &binding},
			reason:  platform.ReasonBindingMismatch,
			wantMsg: "no user_data",
		},
		{
			name:    "does not read an upper-case USER_DATA as user_data",
			doc:     platformtest.NitroDoc{Timestamp: ts, Extra: map[string]any{"USER_DATA": binding[:]}},
			opts:    platform.Options{Binding: &binding},
			reason:  platform.ReasonBindingMismatch,
			wantMsg: "no user_data",
		},
		{
			name:    "rejects a leaf that expired before the document's time",
			doc:     platformtest.NitroDoc{Timestamp: ts, LeafNotBefore: ts.Add(-4 * time.Hour), LeafNotAfter: ts.Add(-time.Hour)},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "expired",
		},
		{
			name:    "rejects a leaf not yet valid at the document's time",
			doc:     platformtest.NitroDoc{Timestamp: ts, LeafNotBefore: ts.Add(time.Minute), LeafNotAfter: ts.Add(time.Hour)},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "certificate chain does not verify",
		},
		{
			name:    "judges certificates at Options.Now when it is set",
			doc:     platformtest.NitroDoc{Timestamp: ts},
			opts:    platform.Options{Now: ts.Add(4 * time.Hour)},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "expired",
		},
		{
			name:    "rejects a document dated after the verifier's clock",
			doc:     platformtest.NitroDoc{Timestamp: now.Add(time.Hour)},
			reason:  platform.ReasonSignatureInvalid,
			wantMsg: "after the verification time",
		},
	}
	// Every case runs on a new verifier and on one whose cache already
	// holds the trusted CA's intermediate: caching must not change any
	// outcome.
	warm := newVerifier(t, now, ca.Root())
	if _, err := warm.Verify(context.Background(), evidence(makeDocument(t, ca, platformtest.NitroDoc{Timestamp: ts})), platform.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, cache := range []string{"cold", "warm"} {
		for _, tc := range tests {
			t.Run(cache+"/"+tc.name, func(t *testing.T) {
				signer := tc.ca
				if signer == nil {
					signer = ca
				}
				v := warm
				if cache == "cold" {
					v = newVerifier(t, now, ca.Root())
				}
				c, err := v.Verify(context.Background(), evidence(makeDocument(t, signer, tc.doc)), tc.opts)
				if tc.reason != "" {
					wantReject(t, err, tc.reason, tc.wantMsg)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.Platform != platform.Nitro {
					t.Errorf("platform = %q", c.Platform)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
			})
		}
	}
}

func TestVerifyFlippedBytes(t *testing.T) {
	now := time.Now()
	ca := newCA(t)
	doc := makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now, ModuleID: "i-0aaaaaaaaaaaaaaaa-enc0aaaaaaaaaaaaaaaa"})
	v := newVerifier(t, now, ca.Root())
	if _, err := v.Verify(context.Background(), evidence(doc), platform.Options{}); err != nil {
		t.Fatalf("the unchanged document: %v", err)
	}
	moduleID := bytes.Index(doc, []byte("i-0aaaa"))
	tests := []struct {
		name string
		at   int
	}{
		{"rejects one flipped byte in the signature", len(doc) - 1},
		{"rejects one flipped byte at the start of the signature", len(doc) - 96},
		{"rejects one flipped byte in the module_id", moduleID + 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(doc)
			b[tc.at] ^= 0x01
			_, err := v.Verify(context.Background(), evidence(b), platform.Options{})
			wantReject(t, err, platform.ReasonSignatureInvalid, "COSE signature does not verify with the document's certificate")
		})
	}
}

func TestVerifyEvidenceJSON(t *testing.T) {
	v := newVerifier(t, time.Now())
	proper := readTestdata(t, "request_proper.bin")
	std := base64.StdEncoding.EncodeToString(proper)
	url := base64.URLEncoding.EncodeToString(proper)
	if !strings.ContainsAny(url, "-_") || !strings.HasSuffix(std, "=") {
		t.Fatal("the sample no longer exercises both alphabets and padding")
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	tests := []struct {
		name     string
		evidence string
		wantErr  string // "" to accept; otherwise a malformed rejection containing it
	}{
		{"accepts standard base64", `{"document": ` + quote(std) + `}`, ""},
		{"accepts standard base64 without padding", `{"document": ` + quote(strings.TrimRight(std, "=")) + `}`, ""},
		{"accepts URL-safe base64", `{"document": ` + quote(url) + `}`, ""},
		{"accepts URL-safe base64 without padding", `{"document": ` + quote(strings.TrimRight(url, "=")) + `}`, ""},
		{"rejects an unknown member", `{"document": ` + quote(std) + `, "cabundle": []}`, `unknown member "cabundle"`},
		{"rejects a member named in another case", `{"Document": ` + quote(std) + `}`, `unknown member "Document"`},
		{"rejects the document twice", `{"document": ` + quote(std) + `, "document": ` + quote(std) + `}`, `"document" twice`},
		{"rejects an object without the document", `{}`, `no "document"`},
		{"rejects an array", `[` + quote(std) + `]`, "not a JSON object"},
		{"rejects nothing", ``, "not a JSON object"},
		{"rejects a document that is not a string", `{"document": 7}`, "not a string"},
		{"rejects a document that is not base64", `{"document": "not base64!"}`, "not base64"},
		{"rejects base64 that mixes the two alphabets", `{"document": "ab+-"}`, "not base64"},
		{"rejects more JSON after the object", `{"document": ` + quote(std) + `} {}`, "more after its object"},
		{"rejects unterminated JSON", `{"document": ` + quote(std), "not valid JSON"},
		{"rejects evidence over its size limit", `{"document": "` + strings.Repeat("A", maxEvidence) + `"}`, "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), json.RawMessage(tc.evidence), platform.Options{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkRealClaims(t, c)
				return
			}
			wantReject(t, err, platform.ReasonMalformed, tc.wantErr)
		})
	}
}

func TestVerifyDocumentTakesTheRawDocument(t *testing.T) {
	v := newVerifier(t, time.Now())
	c, err := v.VerifyDocument(context.Background(), readTestdata(t, "request_proper.bin"), platform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRealClaims(t, c)
}

func TestIssuerCache(t *testing.T) {
	now := time.Now().UTC()
	ca, attacker := newCA(t), newCA(t)
	ctx := context.Background()

	// warm returns a verifier that trusts ca and has verified one of its
	// documents, so that ca's intermediate is cached.
	warm := func(t *testing.T) *Verifier {
		t.Helper()
		v := newVerifier(t, now, ca.Root())
		if _, err := v.Verify(ctx, evidence(makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now})), platform.Options{}); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n != 1 {
			t.Fatalf("%d cached issuers, want 1", n)
		}
		return v
	}

	t.Run("verifies a second document through the cached issuer", func(t *testing.T) {
		v := warm(t)
		doc, err := parseDocument(makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now}))
		if err != nil {
			t.Fatal(err)
		}
		if !v.cache.verifyLeaf(doc.leaf, doc.cabundle, doc.timestamp) {
			t.Fatal("the cache does not verify a new leaf of the cached issuer")
		}
		if err := verifyChain(doc, v.roots, doc.timestamp, v.cache); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("caches the real sample's instance CA", func(t *testing.T) {
		v := newVerifier(t, now)
		if _, err := v.Verify(ctx, evidence(readTestdata(t, "request_proper.bin")), platform.Options{}); err != nil {
			t.Fatal(err)
		}
		doc, err := parseDocument(readTestdata(t, "request_proper.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !v.cache.verifyLeaf(doc.leaf, doc.cabundle, doc.timestamp) {
			t.Fatal("the real sample's issuer was not cached")
		}
		// The sample's regional CA expired on 2021-09-25: the cached
		// path must not be used after that, although the instance CA
		// itself was never shown expired.
		if v.cache.verifyLeaf(doc.leaf, doc.cabundle, time.Date(2021, 9, 26, 0, 0, 0, 0, time.UTC)) {
			t.Fatal("the cache used a path whose regional CA had expired")
		}
	})
	t.Run("does not let an expired leaf pass", func(t *testing.T) {
		v := warm(t)
		doc := makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now, LeafNotBefore: now.Add(-2 * time.Hour), LeafNotAfter: now.Add(-time.Hour)})
		_, err := v.Verify(ctx, evidence(doc), platform.Options{})
		wantReject(t, err, platform.ReasonSignatureInvalid, "expired")
	})
	t.Run("does not use a cached issuer after its chain expired", func(t *testing.T) {
		v := warm(t)
		// A leaf valid for twenty years, judged after the intermediate's
		// year is over.
		doc := makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now, LeafNotBefore: now, LeafNotAfter: now.Add(20 * 365 * 24 * time.Hour)})
		_, err := v.Verify(ctx, evidence(doc), platform.Options{Now: now.Add(2 * 365 * 24 * time.Hour)})
		wantReject(t, err, platform.ReasonSignatureInvalid, "expired")
	})
	t.Run("does not vouch for a leaf of another CA shown with the cached intermediate", func(t *testing.T) {
		v := warm(t)
		doc := makeDocument(t, attacker, platformtest.NitroDoc{Timestamp: now, CABundle: [][]byte{ca.Root().Raw, ca.Intermediate().Raw}})
		_, err := v.Verify(ctx, evidence(doc), platform.Options{})
		wantReject(t, err, platform.ReasonSignatureInvalid, "certificate chain does not verify to a trusted Nitro root")
	})
	t.Run("belongs to one verifier: another that does not trust the root rejects", func(t *testing.T) {
		warm(t)
		v := newVerifier(t, now, attacker.Root())
		_, err := v.Verify(ctx, evidence(makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now})), platform.Options{})
		wantReject(t, err, platform.ReasonSignatureInvalid, "certificate chain does not verify to a trusted Nitro root")
	})
	t.Run("stays within its bound", func(t *testing.T) {
		c := newIssuerCache()
		doc, err := parseDocument(makeDocument(t, ca, platformtest.NitroDoc{Timestamp: now}))
		if err != nil {
			t.Fatal(err)
		}
		for range maxCachedIssuers + 10 {
			other := *doc.cabundle[1]
			other.Raw = append(bytes.Clone(other.Raw), byte(c.len())) // a distinct fingerprint
			c.add([]*x509.Certificate{doc.leaf, &other, doc.cabundle[0]})
		}
		if n := c.len(); n > maxCachedIssuers {
			t.Fatalf("%d cached issuers, more than %d", n, maxCachedIssuers)
		}
	})
}

func TestNewVerifier(t *testing.T) {
	ca := newCA(t)
	leafDoc, err := parseDocument(makeDocument(t, ca, platformtest.NitroDoc{}))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("embeds the AWS Nitro root AWS publishes", func(t *testing.T) {
		root, err := AWSRoot()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := root.Subject.String(), "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"; got != want {
			t.Errorf("subject = %q, want %q", got, want)
		}
		if root.PublicKeyAlgorithm != x509.ECDSA || root.CheckSignatureFrom(root) != nil {
			t.Error("the root is not a self-signed ECDSA certificate")
		}
	})
	t.Run("refuses to start when the embedded root is not AWS's", func(t *testing.T) {
		saved := awsRootPEM
		defer func() { awsRootPEM = saved }()
		awsRootPEM = ca.RootPEM()
		if _, err := NewVerifier(Config{}); err == nil || !strings.Contains(err.Error(), "fingerprint") {
			t.Fatalf("NewVerifier = %v, want a fingerprint error", err)
		}
	})
	t.Run("refuses a nil root and a root that is not a CA", func(t *testing.T) {
		_, err := NewVerifier(Config{Roots: []*x509.Certificate{nil, leafDoc.leaf}})
		if err == nil || !strings.Contains(err.Error(), "root 0 is nil") || !strings.Contains(err.Error(), "root 1") {
			t.Fatalf("NewVerifier = %v, want errors for both roots", err)
		}
	})
	t.Run("reports the nitro platform", func(t *testing.T) {
		if p := newVerifier(t, time.Now()).Platform(); p != platform.Nitro {
			t.Fatalf("Platform() = %q", p)
		}
	})
}

func FuzzDecodeEvidence(f *testing.F) {
	f.Add([]byte(evidence(readTestdata(f, "request_proper.bin"))))
	f.Add([]byte(`{"document": "AAAA", "x": 1}`))
	f.Add([]byte(`{"document": "-_-_"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := decodeEvidence(b); err != nil && platform.ReasonOf(err) != platform.ReasonMalformed {
			t.Fatalf("error without the malformed reason: %v", err)
		}
	})
}
