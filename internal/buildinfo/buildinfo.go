// Package buildinfo reports the version and commit this binary was built from.
package buildinfo

import "runtime/debug"

// version is set at link time: -ldflags "-X github.com/openccm/openccm/internal/buildinfo.version=v1.2.3".
var version = ""

// Version returns the release version, or "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Commit returns the VCS revision, or "unknown".
func Commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
