package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/enclaveos/eif"
)

func TestEIFDescribe(t *testing.T) {
	in := eif.Input{Kernel: []byte("kernel"), Cmdline: []byte("console=ttyS0"), Ramdisks: [][]byte{[]byte("init"), []byte("rootfs")}}
	var buf bytes.Buffer
	if err := eif.Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "app.eif")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"eif", "describe", path}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var m struct {
		Measurements map[string]string `json:"Measurements"`
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	want := eif.Measure(in)
	if m.Measurements["PCR0"] != hex.EncodeToString(want.PCR0[:]) || m.Measurements["PCR2"] != hex.EncodeToString(want.PCR2[:]) {
		t.Fatalf("measurements %v", m.Measurements)
	}
	b := buf.Bytes()
	b[len(b)-1] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := Main([]string{"eif", "describe", path}, strings.NewReader(""), &out, &errOut); code == 0 {
		t.Fatal("a corrupted EIF was described")
	}
}
