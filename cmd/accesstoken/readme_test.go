package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The README's own example of check, run as written from the repository's
// root (with the built binary for "go run ./cmd/accesstoken"), prints the
// output the README shows.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Why was my token refused?")
	if !ok {
		t.Fatal(`README has no "Why was my token refused?" section`)
	}
	blocks := strings.Split(section, "```")
	// blocks[1] is "sh\n<command>\n", blocks[3] "\n<output>".
	command := strings.TrimSpace(strings.TrimPrefix(blocks[1], "sh"))
	want := strings.TrimPrefix(blocks[3], "\n")
	if !strings.HasPrefix(command, "go run ./cmd/accesstoken check ") {
		t.Fatalf("the README's first block is not a check command: %q", command)
	}
	cmd := exec.Command("bash", "-c", strings.Replace(command, "go run ./cmd/accesstoken", binary, 1))
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1 (refused)", code, err)
	}
	if string(out) != want {
		t.Fatalf("output:\n%s\nthe README shows:\n%s", out, want)
	}
}
