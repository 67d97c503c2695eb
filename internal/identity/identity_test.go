package identity

import (
	"testing"

	"github.com/openccm/openccm/internal/store"
)

func TestEffectiveRole(t *testing.T) {
	tok := func(account string, r store.Role) *store.Token { return &store.Token{AccountID: account, Role: r} }
	cases := []struct {
		name    string
		p       Principal
		account string
		member  store.Role
		want    store.Role
	}{
		{"a session acts with the member's role", Principal{}, "A", store.RoleWriter, store.RoleWriter},
		{"a non-member has no role", Principal{}, "A", "", ""},
		{"a token is capped by its own role", Principal{Token: tok("A", store.RoleReader)}, "A", store.RoleManager, store.RoleReader},
		{"a token is capped by the creator's current role", Principal{Token: tok("A", store.RoleManager)}, "A", store.RoleReader, store.RoleReader},
		{"a token acts only in its account", Principal{Token: tok("A", store.RoleManager)}, "B", store.RoleManager, ""},
		{"a token of a removed member has no role", Principal{Token: tok("A", store.RoleManager)}, "A", "", ""},
		{"an unknown member role counts as none", Principal{}, "A", "owner", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.EffectiveRole(c.account, c.member); got != c.want {
				t.Fatalf("EffectiveRole = %q, want %q", got, c.want)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	ok := map[string]string{"A@Example.com": "a@example.com", " bob@x.io ": "bob@x.io", "root@localhost": "root@localhost"}
	for in, want := range ok {
		if got, err := NormalizeEmail("email", in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "bob", "bob@", "@x.io", "Bob <bob@x.io>", "bob@x", "a\n@b.c"} {
		if _, err := NormalizeEmail("email", in); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", in)
		}
	}
}

func TestSecretsAreDistinctAndPrefixed(t *testing.T) {
	a, ha, _ := newSecret(apiPrefix)
	b, hb, _ := newSecret(apiPrefix)
	if a == b || string(ha) == string(hb) || a[:5] != apiPrefix || len(ha) != 32 {
		t.Fatalf("secrets %q %q", a, b)
	}
}
