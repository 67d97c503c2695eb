package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
)

// Environment variables that override the enclave size the image was built
// with, so one image fits instances of different sizes.
const (
	// EnvMemSize is the enclave's memory: MiB as a whole number, or with
	// the suffix M (MiB) or G (GiB), case-insensitive: 4096, 4096M, 4G.
	EnvMemSize = "MEM_SIZE"
	// EnvCPUCount is the enclave's number of vCPUs, a whole number.
	EnvCPUCount = "CPU_COUNT"
)

// Bounds that keep a mistyped value from reaching nitro-cli as an absurd
// request (or overflowing): 16 TiB and 4096 vCPUs are far above any EC2
// instance.
const (
	maxMemoryMiB = 16 << 20
	maxCPUCount  = 4096
)

// Resources are the memory and vCPUs an enclave is started with.
type Resources struct {
	MemoryMiB int
	CPUCount  int
}

// ResolveResources returns the manifest's memory and CPU count, each
// replaced by MEM_SIZE or CPU_COUNT when getenv returns a non-empty value
// for it. Every invalid variable is reported, each by name.
func ResolveResources(m *manifest.Manifest, getenv func(string) string) (Resources, error) {
	r := Resources{MemoryMiB: m.MemoryMiB, CPUCount: m.CPUCount}
	var errs []error
	if s := strings.TrimSpace(getenv(EnvMemSize)); s != "" {
		mib, err := ParseMemSize(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvMemSize, s, err))
		}
		r.MemoryMiB = mib
	}
	if s := strings.TrimSpace(getenv(EnvCPUCount)); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || strings.HasPrefix(s, "+"):
			errs = append(errs, fmt.Errorf("%s=%q: not a whole number of vCPUs", EnvCPUCount, s))
		case n <= 0 || n > maxCPUCount:
			errs = append(errs, fmt.Errorf("%s=%q: must be between 1 and %d", EnvCPUCount, s, maxCPUCount))
		}
		r.CPUCount = n
	}
	if err := errors.Join(errs...); err != nil {
		return Resources{}, err
	}
	return r, nil
}

// ParseMemSize reads a memory size in MiB: a whole number, optionally
// followed by M or MiB (MiB) or G or GiB (GiB), in any case.
func ParseMemSize(s string) (int, error) {
	num, unit := s, 1
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mib    int
	}{{"mib", 1}, {"gib", 1024}, {"m", 1}, {"g", 1024}} {
		if strings.HasSuffix(lower, u.suffix) {
			num, unit = s[:len(s)-len(u.suffix)], u.mib
			break
		}
	}
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, errors.New("not a memory size: give MiB as a whole number, optionally with the suffix M or G (4096, 4096M, 4G)")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n > maxMemoryMiB/unit {
		return 0, fmt.Errorf("more than the %d MiB allowed", maxMemoryMiB)
	}
	if n == 0 {
		return 0, errors.New("must be positive")
	}
	return n * unit, nil
}
