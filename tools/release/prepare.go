package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

// release is one preparation of the set at a version, in a work folder
// outside the repository: tree/ holds the files of the release commit,
// proxy/ the file-system module proxy made from them, as the go command
// would serve them once the tags are pushed.
type release struct {
	repo, work  string // the repository; the work folder
	tree, proxy string
	set         *set
	version     string
	date        time.Time
	log         io.Writer
	dryRun      bool
	env         []string // of go commands: see goEnv
}

// copyTree copies the files of a commit made now into r.tree.
func (r *release) copyTree() error {
	files, err := trackedFiles(r.repo)
	if err != nil {
		return err
	}
	for _, f := range files {
		src := filepath.Join(r.repo, f)
		fi, err := os.Lstat(src)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue // a symbolic link is never in a module zip
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(r.tree, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// edit makes the release commit's changes in r.tree: the version in
// versions.txt, siblings required at it in every go.mod, every replace
// dropped from released modules (go install refuses a module that has
// one), and the CHANGELOG's Unreleased section titled with the version.
func (r *release) edit() error {
	if err := setVersion(r.tree, r.version); err != nil {
		return err
	}
	for _, d := range r.set.all() {
		p := filepath.Join(r.tree, d, "go.mod")
		mf, err := readModFile(p)
		if err != nil {
			return err
		}
		if err := r.set.requireAt(mf, r.version); err != nil {
			return err
		}
		if r.set.isReleased(modulePath(d)) {
			for _, rep := range mf.Replace {
				if !r.set.isReleased(rep.Old.Path) {
					return fmt.Errorf("%s/go.mod replaces %s, which is not of the set: a released module may not", d, rep.Old.Path)
				}
				if err := mf.DropReplace(rep.Old.Path, rep.Old.Version); err != nil {
					return err
				}
			}
		}
		if err := writeModFile(p, mf); err != nil {
			return err
		}
	}
	return r.changelog()
}

var unreleased = regexp.MustCompile(`(?m)^## \[Unreleased\][ \t]*$`)

// changelog titles the Unreleased section with the version and date and
// opens a new, empty Unreleased section above it.
func (r *release) changelog() error {
	p := filepath.Join(r.tree, "CHANGELOG.md")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	num := strings.TrimPrefix(r.version, "v")
	if bytes.Contains(data, []byte("## ["+num+"]")) {
		if r.dryRun {
			// CI's dry run at a version already released: the tree is
			// what a release of today's main under that version would be.
			fmt.Fprintf(r.log, "changelog: %s has its section already; left as it is\n", num)
			return nil
		}
		return fmt.Errorf("CHANGELOG.md already has a section for %s", num)
	}
	loc := unreleased.FindIndex(data)
	if loc == nil {
		return fmt.Errorf("CHANGELOG.md has no \"## [Unreleased]\" section to release")
	}
	heading := fmt.Sprintf("## [Unreleased]\n\n## [%s] - %s", num, r.date.Format("2006-01-02"))
	out := append(append(append([]byte(nil), data[:loc[0]]...), heading...), data[loc[1]:]...)
	return os.WriteFile(p, out, 0o644)
}

// goEnv is the environment of go commands run on the release tree: no
// workspace, the file-system proxy before the usual one, and the set's
// modules, which no checksum database knows yet, checked against go.sum
// alone.
//
// The user's module cache serves the other modules, so that what the
// tests compiled is not compiled again; the set's own entries are removed
// from it before and after (see cleanCache): a version made here must
// never stay where a later run, or a build, would take it for the one
// published.
func (r *release) goEnv(extra ...string) []string {
	if r.env == nil {
		r.env = r.baseEnv()
	}
	return append(r.env[:len(r.env):len(r.env)], extra...)
}

func (r *release) baseEnv() []string {
	// The go command indexes the files of each package in the module cache
	// by its path@version directory, which it takes for immutable; the
	// set's versions made here do change between runs, so that index must
	// not be used for them (goindex=0), or a build compiles a stale list.
	godebug := "goindex=0"
	if prev := os.Getenv("GODEBUG"); prev != "" {
		godebug = prev + "," + godebug
	}
	return append(os.Environ(),
		"GODEBUG="+godebug,
		"GOWORK=off",
		"GOFLAGS="+strings.TrimSpace(goEnvValue("GOFLAGS")+" -modcacherw"),
		"GOPROXY=file://"+filepath.ToSlash(r.proxy)+","+goEnvValue("GOPROXY"),
		"GONOSUMDB="+rootPath,
	)
}

// cleanCache removes the set's modules from the module cache: the
// extracted trees and the downloads.
func cleanCache() error {
	cache := goEnvValue("GOMODCACHE")
	if cache == "" {
		return errors.New("go env GOMODCACHE is empty")
	}
	own := filepath.FromSlash(strings.TrimSuffix(rootPath, "/accesstoken"))
	for _, dir := range []string{filepath.Join(cache, own), filepath.Join(cache, "cache", "download", own)} {
		// Entries extracted without -modcacherw are read-only.
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the set's modules from the module cache: %v", err)
		}
	}
	return nil
}

// goEnvValue is the go command's setting of name, as this process sees it.
func goEnvValue(name string) string {
	out, _ := exec.Command("go", "env", name).Output()
	return strings.TrimSpace(string(out))
}

// run runs a go command in dir on the release tree.
func (r *release) run(dir string, args ...string) error {
	return r.runEnv(dir, nil, args...)
}

func (r *release) runEnv(dir string, extra []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = r.goEnv(extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		rel, _ := filepath.Rel(r.work, dir)
		return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), rel, err, out.String())
	}
	return nil
}

// makeProxy tidies each released module in dependency order, root first,
// so that its go.sum holds the hashes of its siblings' zips, then adds its
// zip to the proxy.
func (r *release) makeProxy() error {
	mods, err := order(r.tree, r.set)
	if err != nil {
		return err
	}
	license, err := os.ReadFile(filepath.Join(r.tree, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the root has no LICENSE: %v", err)
	}
	for _, d := range mods {
		dir := filepath.Join(r.tree, d)
		if d != "." {
			if err := r.run(dir, "mod", "tidy"); err != nil {
				return err
			}
			// The go command puts the repository's LICENSE in the zip of a
			// nested module that has none of its own.
			if _, err := os.Stat(filepath.Join(dir, "LICENSE")); os.IsNotExist(err) {
				if err := os.WriteFile(filepath.Join(dir, "LICENSE"), license, 0o644); err != nil {
					return err
				}
			}
		}
		if err := r.addZip(d); err != nil {
			return err
		}
		fmt.Fprintf(r.log, "proxy: %s@%s\n", modulePath(d), r.version)
	}
	return nil
}

func (r *release) addZip(d string) error {
	mv := module.Version{Path: modulePath(d), Version: r.version}
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return err
	}
	at := filepath.Join(r.proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, mv, filepath.Join(r.tree, d)); err != nil {
		return fmt.Errorf("zip of %s: %v", mv, err)
	}
	gomod, err := os.ReadFile(filepath.Join(r.tree, d, "go.mod"))
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"Version": r.version, "Time": r.date.UTC().Format(time.RFC3339)})
	for name, data := range map[string][]byte{
		r.version + ".zip":  zip.Bytes(),
		r.version + ".mod":  gomod,
		r.version + ".info": info,
		"list":              []byte(r.version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkTree builds, vets and checks go mod tidy on every released module
// of the release tree, outside any workspace, its siblings coming from the
// proxy as they will for users.
func (r *release) checkTree() error {
	for _, d := range r.set.released {
		dir := filepath.Join(r.tree, d)
		for _, args := range [][]string{{"build", "-o", os.DevNull, "./..."}, {"vet", "./..."}, {"mod", "tidy", "-diff"}} {
			if err := r.run(dir, args...); err != nil {
				return err
			}
		}
		fmt.Fprintf(r.log, "release tree: %s builds, vets and is tidy outside the workspace\n", d)
	}
	return nil
}

// prepare makes the release tree and its proxy in r.work.
func prepare(repo, work, version string, date time.Time, dryRun bool, log io.Writer) (*release, error) {
	s, err := readSet(repo)
	if err != nil {
		return nil, err
	}
	if !semver.IsValid(version) || semver.Canonical(version) != version || semver.Build(version) != "" {
		return nil, fmt.Errorf("%q is not a version such as v0.1.0", version)
	}
	if semver.Compare(version, s.version) < 0 {
		return nil, fmt.Errorf("%s is older than the set's version %s", version, s.version)
	}
	r := &release{repo: repo, work: work, tree: filepath.Join(work, "tree"), proxy: filepath.Join(work, "proxy"),
		set: s, version: version, date: date, dryRun: dryRun, log: log}
	files, err := trackedFiles(repo)
	if err != nil {
		return nil, err
	}
	if problems := checkLayout(repo, s, files); len(problems) > 0 {
		return nil, fmt.Errorf("the repository breaks the release rules:\n  %s", strings.Join(problems, "\n  "))
	}
	if err := r.copyTree(); err != nil {
		return nil, err
	}
	if err := r.edit(); err != nil {
		return nil, err
	}
	if err := r.makeProxy(); err != nil {
		return nil, err
	}
	return r, nil
}
