package oci

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/openccm/openccm/internal/oci/ocitest"
)

// newRegistry serves an empty registry that accepts the given user and
// returns its host:port.
func newRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	return ocitest.NewRegistry(t, map[string]string{user: pass})
}

func newClient() *Client {
	c := New(Config{Insecure: true, UserAgent: "openccm-test"})
	c.backoff = &remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2}
	return c
}

var (
	userA = Credentials{Username: "a", Password: "secret-a"}
	userB = Credentials{Username: "b", Password: "secret-b"}
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// push seeds a registry, checking that Push reports the image's digest.
func push(t *testing.T, c *Client, ref string, img v1.Image, creds Credentials) {
	t.Helper()
	got, err := c.Push(context.Background(), ref, img, creds)
	if err != nil {
		t.Fatalf("Push(%s): %v", ref, err)
	}
	if want := digest(t, img); got != want {
		t.Fatalf("Push(%s) = %s, want %s", ref, got, want)
	}
}

// pushIndex writes a multi-arch index of one random image per platform and
// returns the images in the same order.
func pushIndex(t *testing.T, ref string, creds Credentials, platforms ...v1.Platform) []v1.Image {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	var imgs []v1.Image
	for _, p := range platforms {
		img := randomImage(t)
		imgs = append(imgs, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: creds.Username, Password: creds.Password})
	if err := remote.WriteIndex(r, idx, remote.WithAuth(auth)); err != nil {
		t.Fatalf("WriteIndex(%s): %v", ref, err)
	}
	return imgs
}

func TestPullReturnsWhatWasPushed(t *testing.T) {
	ctx := context.Background()
	c := newClient()
	regA := newRegistry(t, userA.Username, userA.Password)
	img := randomImage(t)
	push(t, c, regA+"/private/app:v1", img, userA)
	push(t, c, regA+"/public/base:v1", img, userA)

	tests := []struct {
		name  string
		ref   string
		creds Credentials
	}{
		{"pulls a private image with the owner's credentials", regA + "/private/app:v1", userA},
		{"pulls a public image anonymously", regA + "/public/base:v1", Credentials{}},
		{"pulls by digest", regA + "/private/app@" + digest(t, img), userA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Pull(ctx, tc.ref, tc.creds)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if g, w := digest(t, got), digest(t, img); g != w {
				t.Errorf("digest = %s, want %s", g, w)
			}
			// Layers come lazily; they must be readable with the same credentials.
			layers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatalf("reading layer: %v", err)
				}
				rc.Close()
			}
		})
	}
}

func TestPullResolvesIndexToLinuxAMD64(t *testing.T) {
	c := newClient()
	regA := newRegistry(t, userA.Username, userA.Password)
	imgs := pushIndex(t, regA+"/private/multi:v1", userA,
		v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
		v1.Platform{OS: "linux", Architecture: "amd64"},
		v1.Platform{OS: "windows", Architecture: "amd64"},
	)
	got, err := c.Pull(context.Background(), regA+"/private/multi:v1", userA)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if g, w := digest(t, got), digest(t, imgs[1]); g != w {
		t.Errorf("digest = %s, want the linux/amd64 image %s", g, w)
	}
}

func TestPullErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient()
	regA := newRegistry(t, userA.Username, userA.Password)
	push(t, c, regA+"/private/app:v1", randomImage(t), userA)
	pushIndex(t, regA+"/private/arm:v1", userA,
		v1.Platform{OS: "linux", Architecture: "arm64"},
		v1.Platform{OS: "linux", Architecture: "s390x"},
	)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		http.Error(w, "", http.StatusServiceUnavailable)
	}))
	t.Cleanup(flaky.Close)
	regFlaky := strings.TrimPrefix(flaky.URL, "http://")
	closed := httptest.NewServer(http.NotFoundHandler())
	regClosed := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	tests := []struct {
		name      string
		ref       string
		creds     Credentials
		status    int
		permanent bool
		msg       string // the whole message, or a prefix ending in "…"
	}{
		{
			name: "refuses a wrong password, naming the image", ref: regA + "/private/app:v1",
			creds: Credentials{Username: "a", Password: "wrong"}, status: 401, permanent: true,
			msg: "pulling " + regA + "/private/app:v1: the registry refused the credentials (401)",
		},
		{
			name: "refuses an anonymous pull of a private image", ref: regA + "/private/app:v1",
			status: 401, permanent: true,
			msg: "pulling " + regA + "/private/app:v1: the registry refused the credentials (401)",
		},
		{
			name: "reports access denied for a user without access", ref: regA + "/private/app:v1",
			creds: Credentials{Username: "nobody", Password: "nobody"}, status: 403, permanent: true,
			msg: "pulling " + regA + "/private/app:v1: access denied (403)",
		},
		{
			name: "reports a missing image as permanent", ref: regA + "/private/app:v2",
			creds: userA, status: 404, permanent: true,
			msg: "pulling " + regA + "/private/app:v2: no such image (404 manifest unknown)",
		},
		{
			name: "reports an index without linux/amd64", ref: regA + "/private/arm:v1",
			creds: userA, permanent: true,
			msg: "pulling " + regA + "/private/arm:v1: the image index has no linux/amd64 image (it has linux/arm64, linux/s390x)",
		},
		{
			name: "rejects an invalid reference", ref: "Not A Reference",
			permanent: true,
			msg:       "pulling Not A Reference: invalid image reference: …",
		},
		{
			name: "treats a 503 as transient", ref: regFlaky + "/private/app:v1",
			creds: userA, status: 503,
			msg: "pulling " + regFlaky + "/private/app:v1: the registry is unavailable (503)",
		},
		{
			name: "treats an unreachable registry as transient", ref: regClosed + "/private/app:v1",
			creds: userA,
			msg:   "pulling " + regClosed + "/private/app:v1: cannot talk to the registry: …",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Pull(ctx, tc.ref, tc.creds)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Pull: got %v (%T), want *Error", err, err)
			}
			if e.Status != tc.status {
				t.Errorf("Status = %d, want %d", e.Status, tc.status)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", IsPermanent(err), tc.permanent)
			}
			if prefix, ok := strings.CutSuffix(tc.msg, "…"); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("message = %q, want prefix %q", err, prefix)
				}
			} else if err.Error() != tc.msg {
				t.Errorf("message = %q, want %q", err, tc.msg)
			}
		})
	}
}

func TestCopyBetweenRegistries(t *testing.T) {
	ctx := context.Background()
	c := newClient()
	regA := newRegistry(t, userA.Username, userA.Password)
	regB := newRegistry(t, userB.Username, userB.Password)
	img := randomImage(t)
	push(t, c, regA+"/private/app:v1", img, userA)

	src, err := c.Pull(ctx, regA+"/private/app:v1", userA)
	if err != nil {
		t.Fatalf("Pull from A: %v", err)
	}
	got, err := c.Push(ctx, regB+"/copies/app:v1", src, userB)
	if err != nil {
		t.Fatalf("Push to B: %v", err)
	}
	if want := digest(t, img); got != want {
		t.Errorf("pushed digest = %s, want %s", got, want)
	}
	back, err := c.Pull(ctx, regB+"/copies/app:v1", userB)
	if err != nil {
		t.Fatalf("Pull from B: %v", err)
	}
	if g, w := digest(t, back), digest(t, img); g != w {
		t.Errorf("digest in B = %s, want %s", g, w)
	}

	_, err = c.Push(ctx, regB+"/copies/app:v2", src, userA)
	want := "pushing " + regB + "/copies/app:v2: the registry refused the credentials (401)"
	if err == nil || err.Error() != want || !IsPermanent(err) {
		t.Errorf("Push to B as a: got %v, want permanent %q", err, want)
	}
}

func TestDisplayNamesDockerHubAsUsersWriteIt(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"},
		{"index.docker.io/acme/app", "docker.io/acme/app:latest"},
		{"ghcr.io/acme/app:v1", "ghcr.io/acme/app:v1"},
		{"localhost:5000/app@sha256:" + strings.Repeat("a", 64), "localhost:5000/app@sha256:" + strings.Repeat("a", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := name.ParseReference(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got := display(r); got != tc.want {
				t.Errorf("display = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsPermanentIgnoresOtherErrors(t *testing.T) {
	if IsPermanent(errors.New("x")) || IsPermanent(nil) {
		t.Error("IsPermanent is true for an error that is not *Error")
	}
}
