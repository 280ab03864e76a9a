package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// rootPath is the module path of the repository's root module; every
// module of the set has it as prefix.
const rootPath = "github.com/tokenguard/accesstoken"

// set is versions.txt: the set's version and its modules.
type set struct {
	version    string
	released   []string // directories relative to the root, "." first
	unreleased []string
}

// modulePath is the module path of the module in dir.
func modulePath(dir string) string {
	if dir == "." {
		return rootPath
	}
	return rootPath + "/" + dir
}

// tagOf is the tag of the module in dir at version v.
func tagOf(dir, v string) string {
	if dir == "." {
		return v
	}
	return dir + "/" + v
}

func readSet(root string) (*set, error) {
	f, err := os.Open(filepath.Join(root, "versions.txt"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &set{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		switch word {
		case "version":
			if !semver.IsValid(arg) || semver.Prerelease(arg) != "" && !strings.HasPrefix(semver.Prerelease(arg), "-rc.") {
				return nil, fmt.Errorf("versions.txt:%d: %q is not a release version (vMAJOR.MINOR.PATCH)", n, arg)
			}
			s.version = arg
		case "released":
			s.released = append(s.released, filepath.Clean(arg))
		case "unreleased":
			s.unreleased = append(s.unreleased, filepath.Clean(arg))
		default:
			return nil, fmt.Errorf("versions.txt:%d: unknown line %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if s.version == "" || len(s.released) == 0 || s.released[0] != "." {
		return nil, fmt.Errorf("versions.txt: needs a version line and the root module (released .) first")
	}
	return s, nil
}

func (s *set) isReleased(path string) bool {
	for _, d := range s.released {
		if modulePath(d) == path {
			return true
		}
	}
	return false
}

// requireAt sets every requirement of mf on a module of the set to v.
func (s *set) requireAt(mf *modfile.File, v string) error {
	for _, req := range mf.Require {
		if s.isReleased(req.Mod.Path) {
			if err := mf.AddRequire(req.Mod.Path, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *set) all() []string { return append(append([]string(nil), s.released...), s.unreleased...) }

// trackedFiles lists the files a commit made now would hold: tracked
// files and untracked ones git does not ignore, as they are in the work
// tree, deleted ones left out.
func trackedFiles(root string) ([]string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, f)); err != nil {
			continue // deleted in the work tree
		}
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// checkLayout holds the repository to the rules every commit keeps (see
// RELEASING.md): every go.mod is in versions.txt; a released module's
// go.mod requires its siblings at the set's version and replaces nothing
// but siblings, by directory; no released module's code imports another
// module's internal packages; no file is over 1 MiB.
func checkLayout(root string, s *set, files []string) []string {
	var problems []string
	listed := map[string]bool{}
	for _, d := range s.all() {
		listed[d] = true
	}
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(root, f))
		if err == nil && fi.Size() > 1<<20 {
			problems = append(problems, fmt.Sprintf("%s is %d bytes: no tracked file may exceed 1 MiB (it would ship in a module zip; built binaries belong in .gitignore)", f, fi.Size()))
		}
		if filepath.Base(f) != "go.mod" || strings.Contains(f, "testdata/") {
			continue
		}
		dir := filepath.Dir(f)
		if !listed[dir] {
			problems = append(problems, fmt.Sprintf("%s is in no line of versions.txt: name it released or unreleased", f))
		}
	}
	problems = append(problems, checkImports(root, s, files)...)
	for _, d := range s.all() {
		mf, err := readModFile(filepath.Join(root, d, "go.mod"))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if got := mf.Module.Mod.Path; got != modulePath(d) {
			problems = append(problems, fmt.Sprintf("%s/go.mod: module %s, want %s", d, got, modulePath(d)))
		}
		for _, r := range mf.Require {
			if strings.HasPrefix(r.Mod.Path, rootPath) && s.isReleased(r.Mod.Path) && r.Mod.Version != s.version {
				problems = append(problems, fmt.Sprintf("%s/go.mod requires %s %s: siblings are required at the set's version %s", d, r.Mod.Path, r.Mod.Version, s.version))
			}
		}
		for _, r := range mf.Replace {
			sib := s.isReleased(r.Old.Path) && r.New.Version == "" && filepath.Clean(filepath.Join(d, r.New.Path)) == dirOf(s, r.Old.Path)
			if !sib {
				problems = append(problems, fmt.Sprintf("%s/go.mod replaces %s with %s: only a sibling, by its directory, may be replaced", d, r.Old.Path, r.New.Path))
			}
		}
	}
	return problems
}

// moduleOf is the directory of the set's module that holds the file or
// package directory rel: the longest module directory that is a prefix.
func moduleOf(s *set, rel string) string {
	best := "."
	for _, d := range s.all() {
		if d != "." && (rel == d || strings.HasPrefix(rel, d+"/")) && len(d) > len(best) {
			best = d
		}
	}
	return best
}

// checkImports finds non-test Go files of released modules that import
// another module's internal packages: the go command allows it (the path
// prefix matches), but it is a contract no version states, and a user who
// upgrades one module alone breaks the other. Tests may use the root's
// internal test helpers.
func checkImports(root string, s *set, files []string) []string {
	var problems []string
	fset := token.NewFileSet()
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") || strings.Contains(f, "testdata/") {
			continue
		}
		own := moduleOf(s, f)
		if !s.isReleased(modulePath(own)) {
			continue
		}
		parsed, err := parser.ParseFile(fset, filepath.Join(root, f), nil, parser.ImportsOnly)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(path, rootPath+"/") || !strings.Contains(path+"/", "/internal/") {
				continue
			}
			rel := strings.TrimPrefix(path, rootPath+"/")
			if other := moduleOf(s, rel); other != own {
				problems = append(problems, fmt.Sprintf("%s imports %s, an internal package of module %s: a module may use only another's exported API", f, path, modulePath(other)))
			}
		}
	}
	return problems
}

// dirOf is the directory of the set's module with path p.
func dirOf(s *set, p string) string {
	for _, d := range s.all() {
		if modulePath(d) == p {
			return d
		}
	}
	return ""
}

func readModFile(path string) (*modfile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(path, data, nil)
}

func writeModFile(path string, mf *modfile.File) error {
	mf.Cleanup()
	data, err := mf.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// order sorts the released modules so that each comes after the siblings
// it requires: the order in which their zips can be made.
func order(root string, s *set) ([]string, error) {
	deps := map[string][]string{}
	for _, d := range s.released {
		mf, err := readModFile(filepath.Join(root, d, "go.mod"))
		if err != nil {
			return nil, err
		}
		for _, r := range mf.Require {
			if s.isReleased(r.Mod.Path) {
				deps[d] = append(deps[d], dirOf(s, r.Mod.Path))
			}
		}
	}
	var out []string
	state := map[string]int{}
	var visit func(d string) error
	visit = func(d string) error {
		switch state[d] {
		case 1:
			return fmt.Errorf("modules of the set require each other in a cycle through %s", d)
		case 2:
			return nil
		}
		state[d] = 1
		for _, dep := range deps[d] {
			if err := visit(dep); err != nil {
				return err
			}
		}
		state[d] = 2
		out = append(out, d)
		return nil
	}
	for _, d := range s.released {
		if err := visit(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setVersion writes v as the set's version in versions.txt.
func setVersion(root, v string) error {
	p := filepath.Join(root, "versions.txt")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "version ") {
			line = "version " + v + "\n"
		}
		out.WriteString(line)
	}
	return os.WriteFile(p, out.Bytes(), 0o644)
}
