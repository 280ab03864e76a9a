// Command release checks and prepares releases of the accesstoken module
// set (see RELEASING.md). Run it from the tools folder:
//
//	go run ./release check              the rules every commit keeps: versions.txt, go.mod files, file sizes
//	go run ./release tidy               every module is tidy and builds outside the workspace
//	go run ./release api [-check]       record (or check) the exported API of every released module in api/
//	go run ./release prepare [-dry-run] [-work DIR] [-date YYYY-MM-DD] VERSION
//
// prepare makes the release commit's tree in a work folder (versions.txt,
// siblings required at VERSION, no replace lines, the CHANGELOG section), a
// file-system module proxy from it (go.sum lines of the set recomputed from
// its zips, root first), checks that every released module builds, vets
// and is tidy against that proxy, and runs the consumer test: an empty
// module outside the repository that go-gets every released module,
// builds, vets and runs a program importing every package, and go-installs
// the command. With -dry-run it stops there and the repository is
// untouched. Without, it then commits the release, tags every released
// module (VERSION, middleware/ginauth/VERSION, ...) and commits the return
// to development (replace lines back); pushing is the maintainer's step.
//
// Exit status: 0 success, 1 a rule broken or a step failed, 2 usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

const usage = `usage: go run ./release <check|tidy|api|prepare> [flags]
  check                      versions.txt names every go.mod; siblings at the set's version; replace only to siblings; no file over 1 MiB
  tidy                       every module of versions.txt is tidy and builds with GOWORK=off
  api [-check]               write (or check against) api/*.txt, the exported API of every released module
  prepare [-dry-run] [-work DIR] [-date YYYY-MM-DD] VERSION
`

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		return 1
	}
	s, err := readSet(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		return 1
	}
	switch args[0] {
	case "check":
		files, err := trackedFiles(root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "release:", err)
			return 1
		}
		if problems := checkLayout(root, s, files); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "release check: %d rule(s) broken:\n  %s\n", len(problems), strings.Join(problems, "\n  "))
			return 1
		}
		fmt.Printf("release check: %d files, %d modules (%d released at %s): the rules hold\n", len(files), len(s.all()), len(s.released), s.version)
		return 0
	case "tidy":
		return tidy(root, s)
	case "api":
		fs := flag.NewFlagSet("api", flag.ContinueOnError)
		check := fs.Bool("check", false, "compare with the record instead of writing it; exit 1 when they differ")
		if fs.Parse(args[1:]) != nil || fs.NArg() != 0 {
			return 2
		}
		changed, err := api(root, s, *check)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "release api:", err)
			return 1
		case *check && len(changed) > 0:
			fmt.Fprintf(os.Stderr, "release api: the exported API changed in %s without its record. If the change is meant, run\n  (cd tools && go run ./release api)\nand commit api/ with a CHANGELOG line (see VERSIONING.md for what a change may break).\n", strings.Join(changed, ", "))
			return 1
		case *check:
			fmt.Printf("release api: the exported API of %d modules matches api/\n", len(s.released)-1)
		default:
			fmt.Printf("release api: %d record(s) written\n", len(changed))
		}
		return 0
	case "prepare":
		return runPrepare(root, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "release: unknown command %q\n%s", args[0], usage)
	return 2
}

// repoRoot is the top of the git work tree the command runs in.
func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", errors.New("not in a git work tree")
	}
	return strings.TrimSpace(string(out)), nil
}

// tidy checks the development tree: each module, on its own (GOWORK=off,
// its siblings through its replace lines), needs no go mod tidy and builds.
func tidy(root string, s *set) int {
	failed := 0
	for _, d := range s.all() {
		// vet runs per module in the workspace (test.sh) and outside it on
		// the release tree (prepare); here the module graph is the point.
		for _, a := range [][]string{{"mod", "tidy", "-diff"}, {"build", "-o", os.DevNull, "./..."}} {
			cmd := exec.Command("go", a...)
			cmd.Dir = filepath.Join(root, d)
			cmd.Env = append(os.Environ(), "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "release tidy: go %s in %s (GOWORK=off): %v\n%s\n", strings.Join(a, " "), d, err, out)
				failed++
				break
			}
		}
	}
	if failed > 0 {
		return 1
	}
	fmt.Printf("release tidy: %d modules are tidy and build outside the workspace\n", len(s.all()))
	return 0
}

func runPrepare(root string, args []string) int {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "prepare and check in the work folder only; the repository is untouched")
	work := fs.String("work", "", "the work folder (default: a new temporary folder, removed afterwards)")
	day := fs.String("date", "", "the release date for CHANGELOG.md (default: today, UTC)")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	version := fs.Arg(0)
	date := time.Now().UTC()
	if *day != "" {
		d, err := time.Parse("2006-01-02", *day)
		if err != nil {
			fmt.Fprintln(os.Stderr, "release prepare: -date:", err)
			return 2
		}
		date = d
	}
	if !*dry {
		if out, _ := exec.Command("git", "-C", root, "status", "--porcelain").Output(); len(out) > 0 {
			fmt.Fprintln(os.Stderr, "release prepare: the work tree has uncommitted changes; commit them, or use -dry-run")
			return 1
		}
	}
	dir := *work
	if dir == "" {
		tmp, err := os.MkdirTemp("", "accesstoken-release-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "release prepare:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	start := time.Now()
	if err := cleanCache(); err != nil {
		fmt.Fprintln(os.Stderr, "release prepare:", err)
		return 1
	}
	defer cleanCache()
	r, err := prepare(root, dir, version, date, *dry, os.Stdout)
	if err == nil {
		err = r.checkTree()
	}
	if err == nil {
		err = r.consumer()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release prepare:", err)
		return 1
	}
	fmt.Printf("release prepare: %s of %d modules checked in %s\n", version, len(r.set.released), time.Since(start).Round(time.Second))
	if *dry {
		fmt.Println("release prepare: dry run; the repository is untouched")
		return 0
	}
	if err := r.commit(); err != nil {
		fmt.Fprintln(os.Stderr, "release prepare:", err)
		return 1
	}
	return 0
}

// commit copies the release tree's changed files into the repository,
// commits and tags them, then commits the return to development.
func (r *release) commit() error {
	dev := map[string][]byte{} // each go.mod as it was, replace lines and all
	for _, d := range r.set.all() {
		data, err := os.ReadFile(filepath.Join(r.repo, d, "go.mod"))
		if err != nil {
			return err
		}
		dev[d] = data
	}
	files := []string{"versions.txt", "CHANGELOG.md"}
	for _, d := range r.set.all() {
		files = append(files, filepath.Join(d, "go.mod"), filepath.Join(d, "go.sum"))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(r.tree, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(r.repo, f), data, 0o644); err != nil {
			return err
		}
	}
	if err := git(r.repo, append([]string{"add", "--"}, existing(r.repo, files)...)...); err != nil {
		return err
	}
	if err := git(r.repo, "commit", "-q", "-m", "Release "+r.version+"\n\nEvery released module requires its siblings at "+r.version+" and replaces nothing;\ngo.sum holds the hashes of the siblings' zips as made from this commit."); err != nil {
		return err
	}
	var tags []string
	for _, d := range r.set.released {
		tag := tagOf(d, r.version)
		if err := git(r.repo, "tag", "-a", "-m", modulePath(d)+" "+r.version, tag); err != nil {
			return err
		}
		tags = append(tags, tag)
	}
	// Back to development: the replace lines return; requirements stay at
	// the version just released.
	for d, data := range dev {
		p := filepath.Join(r.repo, d, "go.mod")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		mf, err := readModFile(p)
		if err != nil {
			return err
		}
		if err := r.set.requireAt(mf, r.version); err != nil {
			return err
		}
		if err := writeModFile(p, mf); err != nil {
			return err
		}
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir, cmd.Env = filepath.Join(r.repo, d), append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go mod tidy in %s: %v\n%s", d, err, out)
		}
	}
	if err := git(r.repo, append([]string{"add", "--"}, existing(r.repo, files)...)...); err != nil {
		return err
	}
	if err := git(r.repo, "commit", "-q", "-m", "Back to development after "+r.version+": replace lines to the siblings' directories"); err != nil {
		return err
	}
	fmt.Printf("release prepare: committed and tagged %s; push them with\n  git push origin main %s\n", r.version, strings.Join(tags, " "))
	return nil
}

func existing(root string, files []string) []string {
	var out []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
