package main

import (
	"bytes"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

// The consumer: a module of its own outside the repository that imports
// every package of the set from the proxy, as a user's program does, and
// shows that the observer reports the version the program requires.
var consumerMain = template.Must(template.New("main").Parse(`// Command consumer is made by the release tool: it imports every package
// of the accesstoken release set from a module proxy, validates a token
// and prints the subject and otelaccesstoken's instrumentation version.
package main

import (
	"context"
	"fmt"
	"os"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tokenguard/accesstoken"
	"github.com/tokenguard/accesstoken/accesstokentest"
	"github.com/tokenguard/accesstoken/otelaccesstoken"
{{range .}}	_ "{{.}}"
{{end}})

func main() {
	ctx := context.Background()
	as := accesstokentest.NewServer()
	defer as.Close()
	reader := sdkmetric.NewManualReader()
	v, err := accesstoken.NewValidator(ctx, accesstoken.Config{
		Issuer:   as.Issuer(),
		Audience: []string{as.Audience()},
		Observer: otelaccesstoken.NewObserver(otelaccesstoken.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer v.Close()
	claims, err := v.Validate(ctx, as.Token(map[string]any{"sub": "consumer"}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil || len(rm.ScopeMetrics) != 1 {
		fmt.Fprintln(os.Stderr, "no metrics:", err)
		os.Exit(1)
	}
	fmt.Println(claims.Subject, rm.ScopeMetrics[0].Scope.Version)
}
`))

// packages lists the import paths of every importable package of the
// released modules in the release tree: not internal, not a command, not
// only tests.
func (r *release) packages() ([]string, error) {
	var out []string
	for _, d := range r.set.released {
		root := filepath.Join(r.tree, d)
		err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				return nil
			}
			name := e.Name()
			if p != root {
				if name == "testdata" || name == "internal" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			pkg, err := build.ImportDir(p, 0)
			if err != nil || pkg.Name == "main" {
				return nil // no Go files, only tests, or a command
			}
			rel, _ := filepath.Rel(root, p)
			path := modulePath(d)
			if rel != "." {
				path += "/" + filepath.ToSlash(rel)
			}
			out = append(out, path)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// consumer runs the consumer test in r.work/consumer: go get of every
// released module at the version, a program importing every package built,
// vetted and run, and go install of the command, whose version it checks.
func (r *release) consumer() error {
	dir := filepath.Join(r.work, "consumer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.run(dir, "mod", "init", "example.com/consumer"); err != nil {
		return err
	}
	get := []string{"get"}
	for _, d := range r.set.released {
		get = append(get, modulePath(d)+"@"+r.version)
	}
	if err := r.run(dir, get...); err != nil {
		return err
	}
	fmt.Fprintf(r.log, "consumer: go get of %d modules at %s\n", len(r.set.released), r.version)
	pkgs, err := r.packages()
	if err != nil {
		return err
	}
	var imports []string
	for _, p := range pkgs {
		switch p {
		case rootPath, rootPath + "/accesstokentest", rootPath + "/otelaccesstoken":
			continue // imported by name
		}
		imports = append(imports, p)
	}
	var src bytes.Buffer
	if err := consumerMain.Execute(&src, imports); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src.Bytes(), 0o644); err != nil {
		return err
	}
	// Tidy only adds what main.go imports beyond the set (the OpenTelemetry
	// SDK); the set's modules stay at the version gotten.
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "consumer", "."}, {"vet", "./..."}} {
		if err := r.run(dir, args...); err != nil {
			return err
		}
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "all")
	list.Dir, list.Env = dir, r.goEnv()
	mods, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list -m all in the consumer: %v", err)
	}
	for _, line := range strings.Split(string(mods), "\n") {
		path, v, _ := strings.Cut(line, " ")
		if strings.HasPrefix(path, rootPath) && path != "example.com/consumer" && v != r.version {
			return fmt.Errorf("the consumer resolved %s at %q, not %s", path, v, r.version)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "consumer")).CombinedOutput()
	if want := "consumer " + r.version + "\n"; err != nil || string(out) != want {
		return fmt.Errorf("the consumer printed %q (%v), want %q: subject and otelaccesstoken's instrumentation version", out, err, want)
	}
	fmt.Fprintf(r.log, "consumer: a program importing %d packages builds, vets and runs: %s", len(pkgs), out)

	bin := filepath.Join(r.work, "bin")
	if err := r.runEnv(r.work, []string{"GOBIN=" + bin}, "install", rootPath+"/cmd/accesstoken@"+r.version); err != nil {
		return err
	}
	out, err = exec.Command(filepath.Join(bin, "accesstoken"), "version").CombinedOutput()
	if want := "accesstoken " + r.version + "\n"; err != nil || string(out) != want {
		return fmt.Errorf("the installed command printed %q (%v), want %q", out, err, want)
	}
	fmt.Fprintf(r.log, "consumer: go install %s/cmd/accesstoken@%s; it prints %s", rootPath, r.version, out)
	return nil
}
