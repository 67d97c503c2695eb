package image

import (
	"strconv"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/errs"
)

func TestParsePCRs(t *testing.T) {
	h := strings.Repeat("ab", 32)
	got, err := ParsePCRs("pcrs", map[string]string{"pcr0": "0x" + strings.ToUpper(h), "pcr22": h})
	if err != nil || len(got) != 2 || got[0] != h || got[22] != h {
		t.Fatalf("ParsePCRs = %v, %v", got, err)
	}
	for key, field := range map[string]string{"pcr23": "pcrs.pcr23", "pcr-1": "pcrs.pcr-1", "PCR1": "pcrs.PCR1", "pcr01": "pcrs.pcr01", "pcr": "pcrs.pcr", "7": "pcrs.7"} {
		_, err := ParsePCRs("pcrs", map[string]string{key: h})
		if e, ok := err.(*errs.Error); !ok || e.Field != field {
			t.Errorf("key %q: err = %v", key, err)
		}
	}
	if _, err := ParsePCRs("pcrs", map[string]string{"pcr3": h[:62]}); err == nil {
		t.Error("a short value was accepted")
	}
}

func TestAzureCVMKeyIsTheExactCombination(t *testing.T) {
	a, b := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
	k1 := AzureCVMKey(map[int]string{0: a})
	k2 := AzureCVMKey(map[int]string{0: a, 1: b})
	k3 := AzureCVMKey(map[int]string{1: b, 0: a})
	if k1 == k2 || k2 != k3 || AzureCVMKey(nil) != AzureCVMKey(map[int]string{}) {
		t.Fatalf("keys %q %q %q", k1, k2, k3)
	}
	// 1=… must not collide with 10=… or 11=….
	if AzureCVMKey(map[int]string{1: a}) == AzureCVMKey(map[int]string{11: a}) {
		t.Fatal("PCR indices collide")
	}
}

func FuzzParsePCRs(f *testing.F) {
	f.Add("pcr0", strings.Repeat("ab", 32), "pcr7", "0X"+strings.Repeat("CD", 32))
	f.Add("pcr23", "x", "pcr01", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		got, err := ParsePCRs("pcrs", map[string]string{k1: v1, k2: v2})
		if err != nil {
			if e, ok := err.(*errs.Error); !ok || e.Kind != errs.Invalid || !strings.HasPrefix(e.Field, "pcrs.") {
				t.Fatalf("error %v is not a field error", err)
			}
			return
		}
		for i, v := range got {
			if i < 0 || i > 22 || len(v) != 64 || strings.ToLower(v) != v {
				t.Fatalf("accepted pcr%d = %q", i, v)
			}
		}
		// Parsing is stable: the key of what was accepted is accepted again.
		again := map[string]string{}
		for i, v := range got {
			again["pcr"+strconv.Itoa(i)] = v
		}
		got2, err := ParsePCRs("pcrs", again)
		if err != nil || AzureCVMKey(got2) != AzureCVMKey(got) {
			t.Fatalf("not stable: %v -> %v (%v)", got, got2, err)
		}
	})
}
