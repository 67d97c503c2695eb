package platformtest_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/platform/sgx"
)

func TestSGXCA(t *testing.T) {
	ca := platformtest.NewSGX(t)
	v, err := sgx.NewDCAPVerifier(sgx.DCAPConfig{Roots: [][]byte{ca.RootsPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := platformtest.SGXReport{ISVProdID: 7, ISVSVN: 3, MiscSelect: 1}
	r.MREnclave[0], r.MRSigner[0] = 0xe1, 0x51
	binding := [32]byte{0: 0xb1, 31: 0xb2}

	t.Run("writes a quote the DCAP verifier reads, signed through the fake PCK chain", func(t *testing.T) {
		ev := ca.Evidence(ca.Quote(r, binding), nil)
		c, err := v.Verify(ctx, ev, platform.Options{Binding: &binding})
		if err != nil {
			t.Fatal(err)
		}
		if c.MREnclave != "e1"+zeros(31) || c.MRSigner != "51"+zeros(31) || *c.ISVProdID != 7 || *c.ISVSVN != 3 || c.Debug {
			t.Errorf("claims %+v", c)
		}
		p := ca.Platform()
		if c.FMSPC != hex.EncodeToString(p.FMSPC[:]) || c.CPUSVN != hex.EncodeToString(p.TCB[:]) || c.Extra["miscselect"] != "1" {
			t.Errorf("FMSPC %s, CPUSVN %s, extra %v", c.FMSPC, c.CPUSVN, c.Extra)
		}
		if c.Attributes != "0500000000000000"+"0300000000000000" || c.TCBStatus != sgx.TCBStatusUnknown {
			t.Errorf("attributes %s, TCB status %s", c.Attributes, c.TCBStatus)
		}
	})
	t.Run("sets the DEBUG attribute", func(t *testing.T) {
		dr := r
		dr.Debug = true
		c, err := v.VerifyQuote(ctx, ca.Quote(dr, binding), nil, platform.Options{})
		if err != nil || !c.Debug || c.Attributes[:2] != "07" {
			t.Errorf("claims %+v, %v", c, err)
		}
	})
	t.Run("signs collateral that says UpToDate for its platform", func(t *testing.T) {
		for _, version := range []int{2, 3} {
			col := ca.Collateral(platformtest.SGXCollateral{TCBInfoVersion: version})
			c, err := v.Verify(ctx, ca.Evidence(ca.Quote(r, binding), col), platform.Options{})
			if err != nil {
				t.Fatalf("TCB info version %d: %v", version, err)
			}
			if c.TCBStatus != sgx.TCBUpToDate {
				t.Errorf("TCB info version %d: status %q", version, c.TCBStatus)
			}
		}
	})
	t.Run("writes its collateral in Intel's form", func(t *testing.T) {
		var col map[string]string
		if err := json.Unmarshal(ca.Collateral(platformtest.SGXCollateral{}), &col); err != nil {
			t.Fatal(err)
		}
		var body struct {
			TCBInfo struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
				FMSPC   string `json:"fmspc"`
			} `json:"tcbInfo"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal([]byte(col["tcb_info"]), &body); err != nil {
			t.Fatal(err)
		}
		if body.TCBInfo.ID != "SGX" || body.TCBInfo.Version != 3 || body.TCBInfo.FMSPC != "00906ED50000" || len(body.Signature) != 128 {
			t.Errorf("TCB info body %+v", body)
		}
	})
	t.Run("WithPlatform keeps the PKI and changes the PCK certificate", func(t *testing.T) {
		p := platformtest.SGXPlatform{FMSPC: [6]byte{0, 0x60, 0x6a, 0, 0, 0}, PCEID: [2]byte{0, 1}, TCB: [16]uint8{3, 3}, PCESVN: 11}
		other := ca.WithPlatform(p)
		if other.Root() != ca.Root() || other.PCK() == ca.PCK() {
			t.Fatal("WithPlatform changed the root or kept the PCK certificate")
		}
		c, err := v.VerifyQuote(ctx, other.Quote(r, binding), nil, platform.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.FMSPC != "00606a000000" || c.Extra["pce_id"] != "0001" || c.Extra["pck_pcesvn"] != "11" {
			t.Errorf("claims %+v", c)
		}
	})
	t.Run("another SGXCA's quotes do not verify with this one's root", func(t *testing.T) {
		_, err := v.VerifyQuote(ctx, platformtest.NewSGX(t).Quote(r, binding), nil, platform.Options{})
		if platform.ReasonOf(err) != platform.ReasonSignatureInvalid {
			t.Errorf("got %v, want %s", err, platform.ReasonSignatureInvalid)
		}
	})
	t.Run("WithPCK sets the PCK certificate's validity", func(t *testing.T) {
		nb := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
		old := ca.WithPCK(ca.Platform(), nb, nb.Add(time.Hour))
		_, err := v.VerifyQuote(ctx, old.Quote(r, binding), nil, platform.Options{})
		if platform.ReasonOf(err) != platform.ReasonSignatureInvalid {
			t.Errorf("expired PCK: got %v, want %s", err, platform.ReasonSignatureInvalid)
		}
	})
}

func zeros(n int) string { return hex.EncodeToString(make([]byte, n)) }
