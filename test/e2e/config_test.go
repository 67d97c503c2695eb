package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerConfigFile checks that `ccm server --config` is strict about
// keys, and uses the settings of a valid file.
func TestServerConfigFile(t *testing.T) {
	t.Parallel()
	t.Run("an unknown key stops the server with a message naming the key", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "f.yaml")
		yaml := "data_dir: " + filepath.Join(dir, "data") + "\nlisten: 127.0.0.1:0\nlisten_adress: 127.0.0.1:9999\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, ccmBin, "server", "--config", cfg)
		cmd.Env = cleanEnv("HOME=" + dir)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("ccm server with an unknown config key kept running\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
		}
		if err == nil {
			t.Fatalf("ccm server with an unknown config key exited 0\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
		}
		if !strings.Contains(stderr.String(), "listen_adress") {
			t.Errorf("the error does not name the unknown key listen_adress:\n%s", &stderr)
		}
		if strings.Contains(stdout.String(), "listening on") {
			t.Errorf("the server listened despite the bad config:\n%s", &stdout)
		}
	})

	t.Run("the settings of a valid file are used", func(t *testing.T) {
		dir := t.TempDir()
		data := filepath.Join(dir, "from-config")
		cfg := filepath.Join(dir, "ccm.yaml")
		yaml := "data_dir: " + data + "\nlisten: 127.0.0.1:0\ninsecure_http: true\nlog_format: json\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		// startServer's --data-dir and --listen flags override the file's.
		srv := startServer(t, data, "", "--config", cfg)
		if !strings.HasPrefix(srv.URL, "http://") {
			t.Errorf("insecure_http from the file was not used: URL %s", srv.URL)
		}
		if log, _ := srv.WaitStderr("\n"); !strings.HasPrefix(strings.TrimSpace(log), "{") {
			t.Errorf("log_format json from the file was not used:\n%s", srv.Stderr())
		}
		if _, err := os.Stat(filepath.Join(data, "master.key")); err != nil {
			t.Errorf("no master key in the configured data dir: %v", err)
		}
	})
}

// TestInsecureHTTP checks that --insecure-http serves plain HTTP and says
// loudly that it does.
func TestInsecureHTTP(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir(), "", "--insecure-http", "--max-body-bytes", "4096")
	t.Run("the server warns on stdout and in its log", func(t *testing.T) {
		if out := srv.Stdout(); !strings.Contains(out, "WARNING") || !strings.Contains(out, "--insecure-http") {
			t.Errorf("stdout has no loud warning:\n%s", out)
		}
		if log, ok := srv.WaitStderr("PLAIN HTTP"); !ok || !strings.Contains(log, "level=WARN msg=\"SERVING PLAIN HTTP") {
			t.Errorf("the log has no warning about plain HTTP:\n%s", log)
		}
		if strings.Contains(srv.Stdout(), "fingerprint") {
			t.Errorf("a plain HTTP server printed a TLS fingerprint:\n%s", srv.Stdout())
		}
	})
	t.Run("the server serves plain HTTP", func(t *testing.T) {
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Fatalf("URL %q, want http://127.0.0.1:PORT", srv.URL)
		}
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		defer hc.CloseIdleConnections()
		for _, p := range []string{"/healthz", "/v1/version"} {
			resp, err := hc.Get(srv.URL + p)
			if err != nil {
				t.Fatalf("GET %s over plain HTTP: %v", p, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("GET %s: status %d", p, resp.StatusCode)
			}
		}
	})
	t.Run("a body over --max-body-bytes is 413 too_large", func(t *testing.T) {
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		defer hc.CloseIdleConnections()
		body := `{"email": "` + strings.Repeat("a", 8192) + `@example.com", "password": "long-enough-password"}`
		resp, err := hc.Post(srv.URL+"/v1/signup", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkErrorBody(t, "POST /v1/signup with 8 KiB", resp.StatusCode, resp.Header, b, 413, "too_large", "")
	})
}
