package platformtest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/azurecvm"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// azWire is the azure_cvm evidence object.
type azWire struct {
	Quote     []byte            `json:"quote"`
	Signature []byte            `json:"signature"`
	PCRs      map[string]string `json:"pcrs"`
	HCLReport []byte            `json:"hcl_report"`
	VCEK      []byte            `json:"vcek"`
	ASK       []byte            `json:"ask"`
	ARK       []byte            `json:"ark"`
	AKPublic  []byte            `json:"ak_public"`
}

func azPCRs() map[int]string {
	m := map[int]string{}
	for _, i := range []int{0, 4, 7, 9, 23} {
		sum := sha256.Sum256(fmt.Appendf(nil, "pcr %d", i))
		m[i] = hex.EncodeToString(sum[:])
	}
	return m
}

// fatalRecorder is a TB that records Fatalf instead of stopping.
type fatalRecorder struct{ msg string }

func (*fatalRecorder) Helper()                             {}
func (r *fatalRecorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestAzureCVM(t *testing.T) {
	cvm := platformtest.NewAzureCVM(t)
	binding := sha256.Sum256([]byte("binding"))
	ev := cvm.Evidence(azPCRs(), &binding)
	var w azWire
	if err := json.Unmarshal(ev, &w); err != nil {
		t.Fatal(err)
	}

	t.Run("builds evidence the azure_cvm verifier accepts with its binding", func(t *testing.T) {
		v, err := azurecvm.NewVerifier(azurecvm.Config{AMDRoots: cvm.RootsPEM()})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), ev, platform.Options{Binding: &binding})
		if err != nil {
			t.Fatal(err)
		}
		m := cvm.Measurement()
		if c.Measurement != hex.EncodeToString(m[:]) || len(c.PCRs) != len(azPCRs()) || c.PCRs[23] != azPCRs()[23] {
			t.Errorf("claims = %+v", c)
		}
	})

	t.Run("lays out the HCL report as Azure's paravisor does", func(t *testing.T) {
		h := w.HCLReport
		le := binary.LittleEndian
		size := int(le.Uint32(h[8:]))
		varSize := int(le.Uint32(h[0x4C0+16:]))
		if len(h) != 2600 || string(h[:4]) != "HCLA" || le.Uint32(h[12:]) != 2 || size != 0x4D4+varSize ||
			le.Uint32(h[0x4C0:]) != uint32(20+varSize) || le.Uint32(h[0x4C0+4:]) != 1 || le.Uint32(h[0x4C0+8:]) != 2 || le.Uint32(h[0x4C0+12:]) != 1 {
			t.Fatalf("header or request data: % x … % x", h[:32], h[0x4C0:0x4D4])
		}
		if bytes.ContainsFunc(h[size:], func(r rune) bool { return r != 0 }) {
			t.Error("the NV index's bytes after the report are not zero")
		}
		claims := h[0x4D4:size]
		sum := sha256.Sum256(claims)
		rd := h[0x20+0x50 : 0x20+0x90]
		if !bytes.Equal(rd[:32], sum[:]) || !bytes.Equal(rd[32:], make([]byte, 32)) {
			t.Errorf("report_data = %x, want SHA-256 of the runtime claims, then zeros", rd)
		}
		var rc struct {
			Keys []struct{ Kid, Kty, N, E string } `json:"keys"`
			VM   map[string]any                    `json:"vm-configuration"`
			User string                            `json:"user-data"`
		}
		if err := json.Unmarshal(claims, &rc); err != nil {
			t.Fatal(err)
		}
		if len(rc.Keys) != 2 || rc.Keys[0].Kid != "HCLAkPub" || rc.Keys[1].Kid != "HCLEkPub" || rc.Keys[0].E != "AQAB" ||
			rc.Keys[0].N != base64.RawURLEncoding.EncodeToString(cvm.AK().N.Bytes()) || rc.VM["secure-boot"] != true || len(rc.User) != 128 {
			t.Errorf("runtime claims = %s", claims)
		}
	})

	t.Run("writes a TPMS_ATTEST and TPMT_SIGNATURE that go-tpm reads", func(t *testing.T) {
		a, err := tpm2.Unmarshal[tpm2.TPMSAttest](w.Quote)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tpm2.Marshal(*a), w.Quote) || a.Magic != tpm2.TPMGeneratedValue || a.Type != tpm2.TPMSTAttestQuote ||
			!bytes.Equal(a.ExtraData.Buffer, binding[:]) {
			t.Fatalf("attest = %+v", a)
		}
		q, err := a.Attested.Quote()
		if err != nil {
			t.Fatal(err)
		}
		sel := q.PCRSelect.PCRSelections
		if len(sel) != 1 || sel[0].Hash != tpm2.TPMAlgSHA256 || !bytes.Equal(sel[0].PCRSelect, tpm2.PCClientCompatible.PCRs(0, 4, 7, 9, 23)) {
			t.Errorf("selection = %+v", sel)
		}
		d := sha256.New()
		for _, i := range []int{0, 4, 7, 9, 23} {
			b, _ := hex.DecodeString(azPCRs()[i])
			d.Write(b)
		}
		if !bytes.Equal(q.PCRDigest.Buffer, d.Sum(nil)) {
			t.Error("the PCR digest is not the SHA-256 of the values in index order")
		}
		s, err := tpm2.Unmarshal[tpm2.TPMTSignature](w.Signature)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.Signature.RSASSA()
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256(w.Quote)
		if err := rsa.VerifyPKCS1v15(cvm.AK(), crypto.SHA256, digest[:], rs.Sig.Buffer); err != nil {
			t.Errorf("the quote signature does not verify with the AK: %v", err)
		}
	})

	t.Run("writes ak_public as a TPMT_PUBLIC that go-tpm reads as the AK", func(t *testing.T) {
		p, err := tpm2.Unmarshal[tpm2.TPMTPublic](w.AKPublic)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := tpm2.Pub(*p)
		if err != nil {
			t.Fatal(err)
		}
		if !cvm.AK().Equal(pub) || !p.ObjectAttributes.Restricted || !p.ObjectAttributes.SignEncrypt || !p.ObjectAttributes.FixedTPM {
			t.Errorf("ak_public = %+v", p)
		}
	})

	t.Run("wraps a quote made elsewhere in an HCL report naming its key", func(t *testing.T) {
		ev, err := cvm.Wrap(platformtest.AzureCVMTPMQuote{Quote: w.Quote, Signature: w.Signature, PCRs: azPCRs(), AK: cvm.AK()})
		if err != nil {
			t.Fatal(err)
		}
		v, err := azurecvm.NewVerifier(azurecvm.Config{AMDRoots: cvm.RootsPEM()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), ev, platform.Options{Binding: &binding}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fails its test on a PCR that is not SHA-256", func(t *testing.T) {
		rec := &fatalRecorder{}
		if ev := platformtest.NewAzureCVM(rec).Evidence(map[int]string{0: "abcd"}, nil); ev != nil || !strings.Contains(rec.msg, "PCR0") {
			t.Errorf("Evidence = %s, Fatalf(%q)", ev, rec.msg)
		}
	})
}
