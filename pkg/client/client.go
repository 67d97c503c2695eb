// Package client is the Go client of the OpenCCM REST API v1. It speaks the
// wire types of package apiv1, turns error bodies into *Error values, and can
// pin a self-signed server by the fingerprint of its certificate.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBodyBytes bounds how much of a response body the client reads.
const maxBodyBytes = 16 << 20

// defaultTimeout bounds one request when the caller gives no HTTPClient.
const defaultTimeout = 2 * time.Minute

const defaultUserAgent = "openccm-go-client"

// Config configures a Client.
type Config struct {
	// BaseURL is the server's URL, e.g. https://ccm.example.com:8443. Routes
	// (/v1/...) are appended to its path.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>" when set.
	Token string
	// CAFile is a PEM bundle of the certificate authorities to trust instead
	// of the system roots.
	CAFile string
	// Fingerprint is the hex SHA-256 of the server's DER leaf certificate,
	// with or without colons, in any case. When set, the client accepts
	// exactly that certificate and nothing else (for self-signed servers).
	Fingerprint string
	// HTTPClient, when set, is used as is: CAFile and Fingerprint are ignored.
	HTTPClient *http.Client
	// UserAgent is the User-Agent header; a default is used when empty.
	UserAgent string
}

// Client calls one OpenCCM server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	userAgent string
	http      *http.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tlsConf, err := tlsConfig(cfg.CAFile, cfg.Fingerprint)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConf
		hc = &http.Client{Transport: tr, Timeout: defaultTimeout}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	return &Client{base: base, token: cfg.Token, userAgent: ua, http: hc}, nil
}

// WithToken returns a copy of c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	c2 := *c
	c2.token = token
	return &c2
}

// BaseURL returns the server URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("client: no server URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("client: server URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("client: server URL %q: scheme must be https or http", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q has no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: server URL %q must not hold user info, a query or a fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// path joins escaped path segments under /v1.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends one request. in, when not nil, is sent as JSON; out, when not nil,
// receives the decoded body of a 2xx response that has one (a *[]byte out
// receives the body as it is).
func (c *Client) do(ctx context.Context, method, p string, query url.Values, in, out any) error {
	// p is already escaped; appending strings keeps it so.
	u := c.base.String() + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("client: reading response of %s %s: %w", method, p, err)
	}
	if len(data) > maxBodyBytes {
		return fmt.Errorf("client: response of %s %s is larger than %d bytes", method, p, maxBodyBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newError(resp, data)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decoding response of %s %s: %w", method, p, err)
	}
	return nil
}

// get, post, patch and del are do with the method filled in.

func (c *Client) get(ctx context.Context, p string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, p, q, nil, out)
}

func (c *Client) post(ctx context.Context, p string, in, out any) error {
	return c.do(ctx, http.MethodPost, p, nil, in, out)
}

func (c *Client) patch(ctx context.Context, p string, in, out any) error {
	return c.do(ctx, http.MethodPatch, p, nil, in, out)
}

func (c *Client) del(ctx context.Context, p string, q url.Values) error {
	return c.do(ctx, http.MethodDelete, p, q, nil, nil)
}
