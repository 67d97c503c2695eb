package account

import "testing"

func TestDefaultTrustDomain(t *testing.T) {
	for in, want := range map[string]string{
		"acme":           "acme",
		"Acme Corp":      "acme-corp",
		"Ünïcode Ltd.":   "-n-code-ltd.",
		"team_a-b.c":     "team_a-b.c",
		"Payments / EU!": "payments---eu-",
	} {
		if got := DefaultTrustDomain(in); got != want {
			t.Errorf("DefaultTrustDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckPCRPriority(t *testing.T) {
	if err := checkPCRPriority(DefaultPCRPriority()); err != nil {
		t.Fatal(err)
	}
	rev := DefaultPCRPriority()
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if err := checkPCRPriority(rev); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]int{nil, {0}, append(DefaultPCRPriority()[:22], 0), append(DefaultPCRPriority()[:22], -1), append(DefaultPCRPriority(), 23)} {
		if err := checkPCRPriority(p); err == nil {
			t.Errorf("accepted %v", p)
		}
	}
}
