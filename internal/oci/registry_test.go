package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/oci/ocitest"
)

// TestDockerRegistry runs against Debian's docker-registry server with
// htpasswd authentication (scripts/ensure-registry.sh starts it).
func TestDockerRegistry(t *testing.T) {
	reg := ocitest.ExternalRegistry(t)
	c := New(Config{})
	ctx := context.Background()
	creds := Credentials{Username: reg.Username, Password: reg.Password}
	repo := reg.Host + "/ccm-test/oci-" + strings.ToLower(randomSuffix())
	img := randomImage(t)

	got, err := c.Push(ctx, repo+":1", img, creds)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if got != digest(t, img) {
		t.Fatalf("push digest %s, want %s", got, digest(t, img))
	}
	pulled, err := c.Pull(ctx, repo+":1", creds)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if digest(t, pulled) != got {
		t.Fatal("pulled another image")
	}
	layers, _ := pulled.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("reading a layer: %v", err)
		}
		rc.Close()
	}

	for _, tc := range []struct {
		what  string
		ref   string
		creds Credentials
		want  string
	}{
		{"a wrong password", repo + ":1", Credentials{Username: reg.Username, Password: "wrong"}, "401"},
		{"no credentials", repo + ":1", Credentials{}, "401"},
		{"a missing tag", repo + ":missing", creds, "no such image"},
	} {
		_, err := c.Pull(ctx, tc.ref, tc.creds)
		var e *Error
		if !errors.As(err, &e) || !e.Permanent || !strings.Contains(err.Error(), tc.ref) {
			t.Errorf("pull with %s: %v; want a permanent error naming %s", tc.what, err, tc.ref)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), tc.want) {
			t.Errorf("pull with %s: %q does not say %q", tc.what, err, tc.want)
		}
	}
	if _, err := c.Push(ctx, repo+":2", img, Credentials{Username: reg.Username, Password: "wrong"}); !IsPermanent(err) {
		t.Errorf("push with a wrong password: %v; want a permanent error", err)
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
