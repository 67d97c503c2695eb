package config

import (
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	c, err := Decode(strings.NewReader("data_dir: /var/lib/ccm\nlisten: ':9443'\nsession_ttl: 2h\nallow_signup: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/ccm" || c.Listen != ":9443" || time.Duration(c.SessionTTL) != 2*time.Hour || !c.AllowSignup {
		t.Fatalf("decoded %+v", c)
	}
	if c.LogFormat != "text" {
		t.Fatalf("defaults lost: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRejectsUnknownKeys(t *testing.T) {
	_, err := Decode(strings.NewReader("data_dir: x\nlisten_addr: ':1'\n"))
	if err == nil || !strings.Contains(err.Error(), "listen_addr") {
		t.Fatalf("err = %v, want one naming listen_addr", err)
	}
}

func TestDecodeRejectsBadDuration(t *testing.T) {
	if _, err := Decode(strings.NewReader("session_ttl: forever\n")); err == nil {
		t.Fatal("accepted a bad duration")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Database = "mysql://x"
	c.TLSCert = "cert.pem"
	c.LogLevel = "loud"
	c.PublicURL = "ftp://ccm"
	c.BuildWorkers = -1
	c.BuildLease = Duration(time.Second)
	c.AgentImage = "Not A Reference"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"database:", "tls_cert and tls_key", "log_level:", "public_url:", "build_workers:", "build_lease:", "agent_image:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	c, err := Decode(strings.NewReader("\n"))
	if err != nil || c != Defaults() {
		t.Fatalf("got %+v, %v", c, err)
	}
}
