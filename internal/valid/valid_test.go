package valid

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/errs"
)

func TestDNSName(t *testing.T) {
	ok := map[string]string{
		"example.com":           "example.com",
		"Payments.Example.COM.": "payments.example.com",
		"*.pay.example.com":     "*.pay.example.com",
		"a-b.c1.example":        "a-b.c1.example",
		"localhost":             "localhost",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
	}
	for in, want := range ok {
		got, err := DNSName("d", in)
		if err != nil || got != want {
			t.Errorf("DNSName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "*.com", "*", "a.*.example.com", "-a.example.com", "a-.example.com", "a..example.com",
		"under_score.example.com", "bücher.example", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "com",
		"a example.com", "*example.com"}
	for _, in := range bad {
		if _, err := DNSName("domains[0]", in); !errs.Is(errs.Invalid, err) {
			t.Errorf("DNSName(%q) accepted", in)
		} else if e := err.(*errs.Error); e.Field != "domains[0]" {
			t.Errorf("DNSName(%q) field %q", in, e.Field)
		}
	}
}

func TestDNSNamesRejectsRepeatsAfterNormalising(t *testing.T) {
	_, err := DNSNames("domains", []string{"a.example.com", "A.example.com."}, 32)
	if e, ok := err.(*errs.Error); !ok || e.Field != "domains[1]" {
		t.Fatalf("err = %v", err)
	}
}

func TestLabels(t *testing.T) {
	if err := Labels("labels", map[string]string{"team": "pay", "app.kubernetes.io/name": "x"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{
		{"": "x"}, {"-x": "y"}, {"a b": "c"}, {strings.Repeat("k", 64): "v"}, {"k": strings.Repeat("v", 257)}, {"k": "line\nbreak"},
	} {
		if err := Labels("labels", m); err == nil {
			t.Errorf("Labels(%v) accepted", m)
		}
	}
	many := map[string]string{}
	for i := 0; i < 65; i++ {
		many[strings.Repeat("k", i%60+1)+string(rune('a'+i/60))] = "v"
	}
	if err := Labels("labels", many); err == nil {
		t.Error("65 labels accepted")
	}
}

func TestName(t *testing.T) {
	if n, err := Name("name", "  payments  "); err != nil || n != "payments" {
		t.Fatalf("%q %v", n, err)
	}
	for _, s := range []string{"", "   ", "a\x00b", "tab\there", strings.Repeat("é", 101)} {
		if _, err := Name("name", s); err == nil {
			t.Errorf("Name(%q) accepted", s)
		}
	}
	if _, err := Name("name", strings.Repeat("é", 100)); err != nil {
		t.Errorf("100 runes refused: %v", err)
	}
}

func TestAbsPath(t *testing.T) {
	for _, p := range []string{"", "/opt/ccm/key.pem"} {
		if err := AbsPath("p", p); err != nil {
			t.Errorf("AbsPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{"key.pem", "./x", "/a\x00b", "/a\nb"} {
		if err := AbsPath("p", p); err == nil {
			t.Errorf("AbsPath(%q) accepted", p)
		}
	}
}

func FuzzDNSName(f *testing.F) {
	for _, s := range []string{"example.com", "*.a.b", "A.B.", "-x", "a..b", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := DNSName("d", s)
		if err != nil {
			return
		}
		// An accepted name is normalised: idempotent, lower case, ASCII only.
		if n2, err := DNSName("d", n); err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, n, n2, err)
		}
		for _, c := range n {
			if c > 127 || (c >= 'A' && c <= 'Z') {
				t.Fatalf("accepted %q as %q", s, n)
			}
		}
	})
}

func TestHex(t *testing.T) {
	ok := map[string]string{"0xABCD": "abcd", "abcd": "abcd", " 0XaBcD ": "abcd"}
	for in, want := range ok {
		if got, err := Hex("f", in, 2); err != nil || got != want {
			t.Errorf("Hex(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0x", "abc", "abcdef", "zzzz", "0xab cd", "ab\x00d"} {
		if _, err := Hex("pcrs.pcr3", in, 2); err == nil {
			t.Errorf("Hex(%q) accepted", in)
		} else if e := err.(*errs.Error); e.Field != "pcrs.pcr3" {
			t.Errorf("Hex(%q) field %q", in, e.Field)
		}
	}
}

func FuzzHex(f *testing.F) {
	for _, s := range []string{"0xABCD", "abcd", "zz", ""} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 64 {
			return
		}
		h, err := Hex("f", s, n)
		if err != nil {
			return
		}
		if len(h) != 2*n || strings.ToLower(h) != h {
			t.Fatalf("Hex(%q, %d) = %q", s, n, h)
		}
		if h2, err := Hex("f", "0X"+strings.ToUpper(h), n); err != nil || h2 != h {
			t.Fatalf("not stable: %q -> %q", h, h2)
		}
	})
}
