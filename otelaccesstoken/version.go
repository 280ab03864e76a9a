package otelaccesstoken

import "runtime/debug"

// instrumentationVersion is this module's version in the program's build
// information, the scope version of its tracer and meter: the version the
// program requires (v0.1.0, ...), the version of a replacement module that
// has one, else "(devel)" (in this module's own tests, or replaced by a
// directory), as "accesstoken version" prints it.
func instrumentationVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Path == scope {
		return orDevel(bi.Main.Version)
	}
	for _, m := range bi.Deps {
		if m.Path != scope {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" {
			return m.Replace.Version
		}
		if m.Replace != nil {
			return "(devel)"
		}
		return orDevel(m.Version)
	}
	return "(devel)"
}

func orDevel(v string) string {
	if v == "" {
		return "(devel)"
	}
	return v
}
