package main

import "runtime/debug"

// version is the command's module version from the build information: the
// tag for "go install .../cmd/accesstoken@v0.1.0", "(devel)" or a
// VCS-derived pseudo-version for a build in a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
