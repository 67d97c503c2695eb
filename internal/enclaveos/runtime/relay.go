package runtime

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

// Size limits of the relay. A Nitro attestation document is at most
// 64 KiB, so an attestation request, in base64 with its CSR, fits easily
// in maxAttestBody.
const (
	maxChallengeBody = 4 << 10
	maxAttestBody    = 256 << 10
	maxRelayResponse = 1 << 20
	// relayTimeout bounds one forwarded request.
	relayTimeout = time.Minute
)

// EnclaveConfig is what the relay serves at ConfigPath: the part of the
// manifest the agent needs.
type EnclaveConfig struct {
	AccountID          string `json:"account_id"`
	AppID              string `json:"app_id,omitempty"`
	CertificateEnabled bool   `json:"certificate_enabled"`
	KeyPath            string `json:"key_path,omitempty"`
	CertPath           string `json:"cert_path,omitempty"`
}

// RelayConfig configures a Relay.
type RelayConfig struct {
	// ServerURL is the OpenCCM server's base URL. It should be https; http
	// is accepted, with a warning, for servers run with --insecure-http.
	ServerURL string
	// ServerCA is the PEM of the certificates ServerURL's TLS certificate
	// must chain to; empty means the system roots.
	ServerCA string
	// Enclave is served at ConfigPath.
	Enclave EnclaveConfig
	Log     *slog.Logger
}

// Relay is the HTTP handler the enclave reaches over vsock: it serves the
// enclave's configuration and forwards the two attestation requests to the
// server. Nothing else of the server, or of the parent's network, can be
// reached through it: every other path is 404, and the requests it sends
// are rebuilt from its own constants, never from the enclave's URL.
type Relay struct {
	base   string // the server URL, without a trailing slash
	http   *http.Client
	config []byte // EnclaveConfig, JSON
	log    *slog.Logger
}

// NewRelay checks c and returns its Relay.
func NewRelay(c RelayConfig) (*Relay, error) {
	u, err := url.Parse(c.ServerURL)
	if err != nil {
		return nil, fmt.Errorf("relay: server URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("relay: server URL %q must be https://host[:port][/path]", c.ServerURL)
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if u.Scheme == "http" {
		log.Warn("the server URL is plain HTTP: attestation requests and certificates cross the network unencrypted", logKeyServer, c.ServerURL)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if strings.TrimSpace(c.ServerCA) != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.ServerCA)) {
			return nil, errors.New("relay: the server CA holds no PEM certificate")
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	cfg, err := json.Marshal(c.Enclave)
	if err != nil {
		return nil, fmt.Errorf("relay: encoding the enclave configuration: %w", err)
	}
	return &Relay{
		base:   strings.TrimRight(u.String(), "/"),
		http:   &http.Client{Transport: tr, Timeout: relayTimeout},
		config: cfg,
		log:    log,
	}, nil
}

// ServeHTTP implements http.Handler.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case ConfigPath:
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			relayError(w, http.StatusMethodNotAllowed, apiv1.CodeMethodNotAllowed, "use GET", "GET, HEAD")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(r.config)
	case ChallengePath:
		r.forward(w, req, ChallengePath, maxChallengeBody)
	case AttestPath:
		r.forward(w, req, AttestPath, maxAttestBody)
	default:
		relayError(w, http.StatusNotFound, apiv1.CodeNotFound,
			"the parent relays only POST "+ChallengePath+", POST "+AttestPath+" and GET "+ConfigPath, "")
	}
}

// forward sends the request's body to the server's path and copies the
// answer back.
func (r *Relay) forward(w http.ResponseWriter, req *http.Request, path string, limit int64) {
	if req.Method != http.MethodPost {
		relayError(w, http.StatusMethodNotAllowed, apiv1.CodeMethodNotAllowed, "use POST", http.MethodPost)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			relayError(w, http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit), "")
			return
		}
		relayError(w, http.StatusBadRequest, apiv1.CodeInvalidJSON, "the body could not be read", "")
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		r.log.Error("building the relayed request", logKeyPath, path, logKeyError, err)
		relayError(w, http.StatusInternalServerError, apiv1.CodeInternal, "the relay failed", "")
		return
	}
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("Accept", "application/json")
	out.Header.Set("User-Agent", "openccm-enclave-relay")
	resp, err := r.http.Do(out)
	if err != nil {
		r.log.Warn("the server cannot be reached", logKeyPath, path, logKeyError, err)
		relayError(w, http.StatusBadGateway, apiv1.CodeUnavailable, "the parent cannot reach the OpenCCM server", "")
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayResponse+1))
	if err != nil || len(data) > maxRelayResponse {
		r.log.Warn("the server's answer could not be read", logKeyPath, path, logKeyStatus, resp.StatusCode, logKeyError, err)
		relayError(w, http.StatusBadGateway, apiv1.CodeUnavailable, "the server's answer could not be read", "")
		return
	}
	for _, h := range []string{"Content-Type", "X-Request-Id", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
	r.log.Info("relayed an attestation request", logKeyPath, path, logKeyStatus, resp.StatusCode)
}

// relayError writes an error in the API's format.
func relayError(w http.ResponseWriter, status int, code, msg, allow string) {
	if allow != "" {
		w.Header().Set("Allow", allow)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: code, Message: msg}})
}
