package main

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, root, name, text string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLayout: each rule of checkLayout, broken once, is reported.
func TestCheckLayout(t *testing.T) {
	layout := func(t *testing.T, adapterMod string, extra map[string]string) []string {
		root := t.TempDir()
		write(t, root, "versions.txt", "version v0.3.0\nreleased .\nreleased middleware/a\nunreleased examples\n")
		write(t, root, "go.mod", "module github.com/tokenguard/accesstoken\n\ngo 1.25.0\n")
		write(t, root, "middleware/a/go.mod", adapterMod)
		write(t, root, "examples/go.mod", "module github.com/tokenguard/accesstoken/examples\n\ngo 1.25.0\n\nrequire github.com/tokenguard/accesstoken v0.3.0\n\nreplace github.com/tokenguard/accesstoken => ../\n")
		files := []string{"versions.txt", "go.mod", "middleware/a/go.mod", "examples/go.mod"}
		for name, text := range extra {
			write(t, root, name, text)
			files = append(files, name)
		}
		s, err := readSet(root)
		if err != nil {
			t.Fatal(err)
		}
		return checkLayout(root, s, files)
	}
	good := "module github.com/tokenguard/accesstoken/middleware/a\n\ngo 1.25.0\n\nrequire github.com/tokenguard/accesstoken v0.3.0\n\nreplace github.com/tokenguard/accesstoken => ../..\n"
	okFiles := map[string]string{
		"middleware/a/a_test.go": "package a\n\nimport _ \"github.com/tokenguard/accesstoken/internal/x\"\n", // tests may
		"internal/y/y.go":        "package y\n\nimport _ \"github.com/tokenguard/accesstoken/internal/x\"\n", // its own module's
		"middleware/a/b.go":      "package a\n\nimport _ \"github.com/tokenguard/accesstoken/bearer\"\n",     // exported API
	}
	if p := layout(t, good, okFiles); len(p) != 0 {
		t.Fatalf("a good layout: %v", p)
	}
	for _, tt := range []struct {
		name, mod string
		extra     map[string]string
		want      string
	}{
		{"sibling at v0.0.0", strings.Replace(good, "v0.3.0", "v0.0.0", 1), nil, "at the set's version v0.3.0"},
		{"replace to another module", good + "replace golang.org/x/net => ../net\n", nil, "only a sibling"},
		{"replace to a version", strings.Replace(good, "=> ../..", "=> github.com/fork/accesstoken v0.3.1", 1), nil, "only a sibling"},
		{"replace to another directory", strings.Replace(good, "=> ../..", "=> ../../../elsewhere", 1), nil, "only a sibling"},
		{"a go.mod not in versions.txt", good, map[string]string{"middleware/b/go.mod": "module github.com/tokenguard/accesstoken/middleware/b\n"}, "in no line of versions.txt"},
		{"a file over 1 MiB", good, map[string]string{"cmd/x/x": strings.Repeat("x", 1<<20+1)}, "exceed 1 MiB"},
		{"an adapter reaching into the root's internal/", good, map[string]string{"middleware/a/a.go": "package a\n\nimport _ \"github.com/tokenguard/accesstoken/internal/x\"\n"}, "internal package of module github.com/tokenguard/accesstoken:"},
		{"a module path off its directory", strings.Replace(good, "middleware/a\n", "middleware/z\n", 1), nil, "want github.com/tokenguard/accesstoken/middleware/a"},
	} {
		p := layout(t, tt.mod, tt.extra)
		if len(p) != 1 || !strings.Contains(p[0], tt.want) {
			t.Errorf("%s: %q, want one problem with %q", tt.name, p, tt.want)
		}
	}
}

// TestPackageAPI: one line per exported name, without parameter names, so
// that renaming a parameter changes nothing and any signature change does.
func TestPackageAPI(t *testing.T) {
	const src = `package p
import "context"
const Max = 3
var Default = &Config{}
type Config struct { Name string; hidden int; Hook func(ctx context.Context, n int) error }
type Option interface{ apply(*Config) }
type Store interface{ Get(ctx context.Context, key string) ([]byte, bool, error) }
type Set[T comparable] map[T]struct{}
func New(ctx context.Context, names ...string) (*Config, error) { return nil, nil }
func (c *Config) Close() error { return nil }
func (c Config) String() string { return "" }
func helper() {}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := (&types.Config{Importer: importer.Default()}).Check("example.com/p", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(packageAPI(pkg), "\n")
	want := strings.Join([]string{
		"type Config struct",
		"type Config struct, Name string",
		"type Config struct, Hook func(context.Context, int) error",
		"method (*Config) Close() error",
		"method (Config) String() string",
		"var Default *Config",
		"const Max untyped int = 3",
		"func New(context.Context, ...string) (*Config, error)",
		"type Option interface",
		"type Option interface, unexported methods",
		"type Set[T comparable] map[T]struct{}",
		"type Store interface",
		"type Store interface, Get(context.Context, string) ([]byte, bool, error)",
	}, "\n")
	if got != want {
		t.Errorf("API lines:\n%s\nwant:\n%s", got, want)
	}
}

// TestChangelog: the Unreleased section is titled with the version and date
// under a new, empty one, blank lines kept; a version with a section
// already is refused, except in a dry run.
func TestChangelog(t *testing.T) {
	tree := t.TempDir()
	write(t, tree, "CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n\n### Added\n- x\n\n## [0.1.0] - 2026-12-07\n")
	r := &release{tree: tree, version: "v0.2.0", date: time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), log: io.Discard}
	if err := r.changelog(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(tree, "CHANGELOG.md"))
	want := "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2027-01-05\n\n### Added\n- x\n\n## [0.1.0] - 2026-12-07\n"
	if string(got) != want {
		t.Errorf("CHANGELOG:\n%s\nwant:\n%s", got, want)
	}
	r.version = "v0.1.0"
	if err := r.changelog(); err == nil {
		t.Error("a second section for 0.1.0 was written")
	}
	r.dryRun = true
	if err := r.changelog(); err != nil {
		t.Errorf("dry run at a released version: %v", err)
	}
}
