package gpu

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileVerifier verifies tokens with the key set of a file that is
// refreshed from outside (NVIDIA rotates its NRAS keys every day or two; a
// cron job fetching the JWKS keeps the file current). Before a
// verification, at most every Config.Recheck, it looks at the file's size
// and modification time and loads it again when they changed. A file that
// has become unreadable or invalid keeps the keys loaded last, with a
// warning. It is safe for concurrent use.
type FileVerifier struct {
	path    string
	cfg     Config
	recheck time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	v       *Verifier
	stamp   string
	checked time.Time
}

// FileConfig configures a FileVerifier.
type FileConfig struct {
	Config
	// Recheck is how often the file is looked at; zero means 30 seconds.
	Recheck time.Duration
	Log     *slog.Logger
}

// NewFileVerifier loads the key set at path; it fails as LoadJWKS does.
func NewFileVerifier(path string, c FileConfig) (*FileVerifier, error) {
	f := &FileVerifier{path: path, cfg: c.Config, recheck: c.Recheck, log: c.Log}
	if f.recheck <= 0 {
		f.recheck = 30 * time.Second
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.cfg.Now == nil {
		f.cfg.Now = time.Now
	}
	stamp, err := f.fileStamp()
	if err != nil {
		return nil, err
	}
	if f.v, err = f.load(); err != nil {
		return nil, err
	}
	f.stamp, f.checked = stamp, f.cfg.Now()
	return f, nil
}

func (f *FileVerifier) fileStamp() (string, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("gpu: reading JWKS: %w", err)
	}
	return fmt.Sprintf("%d:%d", st.Size(), st.ModTime().UnixNano()), nil
}

func (f *FileVerifier) load() (*Verifier, error) {
	b, err := LoadJWKS(f.path)
	if err != nil {
		return nil, err
	}
	c := f.cfg
	c.JWKS = b
	return NewVerifier(c)
}

// current returns the verifier of the file as it is now.
func (f *FileVerifier) current() *Verifier {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	if now.Sub(f.checked) < f.recheck {
		return f.v
	}
	f.checked = now
	stamp, err := f.fileStamp()
	if err != nil || stamp == f.stamp {
		if err != nil {
			f.log.Warn("the GPU key set file cannot be read; keeping the keys loaded before", "file", f.path, "error", err)
		}
		return f.v
	}
	v, err := f.load()
	if err != nil {
		f.log.Warn("the GPU key set file changed but is not valid; keeping the keys loaded before", "file", f.path, "error", err)
		return f.v
	}
	f.v, f.stamp = v, stamp
	f.log.Info("GPU key set reloaded", "file", f.path)
	return v
}

// Verify is Verifier.Verify with the file's current keys.
func (f *FileVerifier) Verify(ctx context.Context, token string, binding [32]byte) (*Result, error) {
	return f.current().Verify(ctx, token, binding)
}
