package registry

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/errs"
)

func TestNormalizeURL(t *testing.T) {
	ok := map[string]string{
		"registry.example.com":          "registry.example.com",
		"Registry.Example.com:5000":     "registry.example.com:5000",
		"https://registry.example.com/": "registry.example.com",
		"index.docker.io":               "docker.io",
		"registry-1.docker.io":          "docker.io",
		"docker.io":                     "docker.io",
		"10.0.0.5:5000":                 "10.0.0.5:5000",
		"[::1]:5000":                    "[::1]:5000",
		"localhost:5000":                "localhost:5000",
	}
	for in, want := range ok {
		got, err := NormalizeURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http://r.example.com", "r.example.com/v2", "user@r.example.com", "r.example.com:0",
		"r.example.com:65536", "r.example.com:x", "bad_host", "-r.example.com", "r.example.com?x=1", "::1"} {
		_, err := NormalizeURL(in)
		if e, ok := err.(*errs.Error); !ok || e.Kind != errs.Invalid || e.Field != "url" {
			t.Errorf("NormalizeURL(%q) err = %v", in, err)
		}
	}
}

func TestHostOf(t *testing.T) {
	cases := map[string]string{
		"nginx":                                         "docker.io",
		"library/nginx:1.25":                            "docker.io",
		"docker.io/library/nginx":                       "docker.io",
		"index.docker.io/x/y":                           "docker.io",
		"myreg.azurecr.io/team/app:v1":                  "myreg.azurecr.io",
		"localhost:5000/app":                            "localhost:5000",
		"registry.example.com:8443/a/b/c":               "registry.example.com:8443",
		"ghcr.io/o/r@sha256:" + strings.Repeat("0", 64): "ghcr.io",
	}
	for in, want := range cases {
		got, err := HostOf(in)
		if err != nil || got != want {
			t.Errorf("HostOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "UPPER/case", "a:b:c", "nginx@sha256:short"} {
		if _, err := HostOf(in); err == nil {
			t.Errorf("HostOf(%q) accepted", in)
		}
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"registry.example.com:5000", "https://x/", "[::1]:1", "index.docker.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := NormalizeURL(s)
		if err != nil {
			return
		}
		if u2, err := NormalizeURL(u); err != nil || u2 != u {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, u, u2, err)
		}
		if strings.ContainsAny(u, "/@?# ") {
			t.Fatalf("accepted %q as %q", s, u)
		}
	})
}

func FuzzHostOf(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:1", "r.example.com:5000/x@sha256:" + strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := HostOf(s)
		if err == nil && h == "" {
			t.Fatalf("HostOf(%q) returned an empty host", s)
		}
	})
}
