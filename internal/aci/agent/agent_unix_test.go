//go:build unix

package agent_test

import (
	"os"
	"syscall"
	"testing"

	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/workload"
)

func TestRunGivesTheKeyToTheAppsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	f := newFixture(t)
	f.cfg.KeyOwner = &workload.Owner{UID: 1234, GID: 5678}
	_, _ = f.start(t, 0)
	waitFor(t, "the ready file", func() bool { return exists(f.path(agent.ReadyFile)) })
	st, err := os.Stat(f.path(agent.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 1234 || sys.Gid != 5678 || st.Mode() != 0o600 {
		t.Errorf("key: owner %d:%d, mode %v", sys.Uid, sys.Gid, st.Mode())
	}
}
