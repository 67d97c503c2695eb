// Package oci pulls and pushes container images for build jobs. It owns the
// talk with registries: parsing references, sending the saved credentials,
// picking the linux/amd64 image from a multi-arch index, and turning registry
// failures into errors that name the image and say whether a retry can help.
package oci

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Credentials are a registry user name and password (or token). The zero
// value pulls and pushes anonymously.
type Credentials struct {
	Username, Password string
}

func (c Credentials) authenticator() authn.Authenticator {
	if c == (Credentials{}) {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password})
}

// Config configures a Client.
type Config struct {
	// Transport carries the registry requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Insecure allows registries served over plain HTTP. Only tests and
	// local development registries need it.
	Insecure bool
	// UserAgent is sent with every request, if set.
	UserAgent string
}

// Client pulls and pushes images. It is safe for concurrent use.
type Client struct {
	cfg Config
	// backoff overrides go-containerregistry's retry schedule for 429 and
	// 5xx answers (three tries over about four seconds); tests shorten it.
	backoff *remote.Backoff
}

// New returns a Client.
func New(c Config) *Client {
	return &Client{cfg: c}
}

// platform is the only platform build jobs produce images for.
var platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Pull fetches the image named by ref ("nginx:1.25" means
// docker.io/library/nginx:1.25). A multi-arch index resolves to its
// linux/amd64 image. Layers are fetched lazily, with the same credentials,
// when the caller reads them.
func (c *Client) Pull(ctx context.Context, ref string, creds Credentials) (v1.Image, error) {
	const op = "pulling"
	r, err := c.parse(op, ref)
	if err != nil {
		return nil, err
	}
	opts := c.options(ctx, creds)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, classify(op, r, err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, classify(op, r, err)
		}
		return img, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, classify(op, r, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, classify(op, r, err)
	}
	var have []string
	for _, d := range m.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.Satisfies(platform) && !d.MediaType.IsIndex() {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, classify(op, r, err)
			}
			return img, nil
		}
		have = append(have, d.Platform.String())
	}
	return nil, &Error{
		Op: op, Ref: display(r), Permanent: true,
		Msg: fmt.Sprintf("the image index has no %s image (it has %s)", platform, listOrNone(have)),
	}
}

// Push uploads img under ref and returns the digest of its manifest
// ("sha256:…"). Layers that img reads from another registry are streamed
// through this process.
func (c *Client) Push(ctx context.Context, ref string, img v1.Image, creds Credentials) (string, error) {
	const op = "pushing"
	r, err := c.parse(op, ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, c.options(ctx, creds)...); err != nil {
		return "", classify(op, r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", classify(op, r, err)
	}
	return d.String(), nil
}

func (c *Client) parse(op, ref string) (name.Reference, error) {
	var opts []name.Option
	if c.cfg.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, &Error{Op: op, Ref: ref, Permanent: true, Msg: "invalid image reference", Err: err}
	}
	return r, nil
}

func (c *Client) options(ctx context.Context, creds Credentials) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(creds.authenticator()),
	}
	if c.cfg.Transport != nil {
		opts = append(opts, remote.WithTransport(c.cfg.Transport))
	}
	if c.cfg.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(c.cfg.UserAgent))
	}
	if c.backoff != nil {
		opts = append(opts, remote.WithRetryBackoff(*c.backoff))
	}
	return opts
}

// display names r as users write it: Docker Hub images as
// docker.io/library/nginx:1.25 rather than index.docker.io/….
func display(r name.Reference) string {
	s := r.Name()
	if rest, ok := strings.CutPrefix(s, name.DefaultRegistry+"/"); ok {
		return "docker.io/" + rest
	}
	return s
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "no platforms"
	}
	return strings.Join(s, ", ")
}
