package platformtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/platform/sevsnp"
)

func TestSNPCA(t *testing.T) {
	ca, err := platformtest.NewSNPCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "roots")
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := platformtest.LoadSNPCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := os.ReadFile(filepath.Join(dir, platformtest.SNPRootsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(roots, ca.RootsPEM()) || !bytes.Equal(loaded.RootsPEM(), ca.RootsPEM()) {
		t.Error("the saved and loaded roots differ from the CA's")
	}
	if fi, err := os.Stat(filepath.Join(dir, platformtest.SNPASKKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ASK key file: %v, %v; want mode 0600", fi, err)
	}

	chip := [64]byte{0: 1, 63: 2}
	r := platformtest.SNPReport{ChipID: chip, TCB: 0xdb18000000000004, VMPL: 1, Debug: true}
	r.Measurement[0] = 0x42
	r.ReportData[0] = 0x17

	t.Run("writes a report go-sev-guest reads, signed by a VCEK with the report's chip and TCB", func(t *testing.T) {
		raw, vcek, err := loaded.SignReport(r)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := abi.ReportToProto(raw)
		if err != nil || len(raw) != abi.ReportSize {
			t.Fatalf("ReportToProto: %v (%d bytes)", err, len(raw))
		}
		if pb.GetVmpl() != 1 || pb.GetMeasurement()[0] != 0x42 || pb.GetPolicy()&(1<<19) == 0 || !bytes.Equal(pb.GetChipId(), chip[:]) {
			t.Errorf("report fields: %v", pb)
		}
		ext, err := kds.VcekCertificateExtensions(vcek)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ext.HWID, chip[:]) || uint64(ext.TCBVersion) != r.TCB || ext.ProductName != "Milan-B1" {
			t.Errorf("VCEK extensions = %+v", ext)
		}
		if err := vcek.CheckSignatureFrom(loaded.ASK()); err != nil {
			t.Errorf("VCEK is not signed by the ASK: %v", err)
		}
	})

	t.Run("evidence from a loaded CA verifies against the saved roots", func(t *testing.T) {
		ev, err := loaded.Report(r)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(ev, &fields); err != nil || len(fields) != 4 {
			t.Fatalf("evidence %s: %v; want report, vcek, ask, ark", ev, err)
		}
		v, err := sevsnp.NewVerifier(sevsnp.Config{Platform: platform.SEVSNP, Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), ev, platform.Options{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Debug || *c.VMPL != 1 || c.Measurement[:2] != "42" {
			t.Errorf("claims = %+v", c)
		}
	})

	t.Run("refuses to load a directory whose ASK key is not PEM", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, platformtest.SNPASKKey), []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := platformtest.LoadSNPCA(dir); err == nil {
			t.Error("LoadSNPCA accepted a broken key file")
		}
	})

	t.Run("refuses a TCB whose SPL AMD's extensions cannot carry", func(t *testing.T) {
		if _, err := ca.Report(platformtest.SNPReport{TCB: 0x80}); err == nil {
			t.Error("Report accepted a bootloader SPL of 128")
		}
	})
}
