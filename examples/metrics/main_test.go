package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestMetrics runs the program and checks the counters it prints, then
// checks that every metric the Grafana dashboard queries is one the
// exporter really serves, with the labels the queries use.
func TestMetrics(t *testing.T) {
	var out strings.Builder
	lines, err := run(&out, "")
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`accesstoken_validations_total{accesstoken_outcome="accepted",accesstoken_token_kind="jwt"} 4`,
		`accesstoken_validations_total{accesstoken_outcome="rejected",accesstoken_reason="expired",accesstoken_token_kind="jwt"} 1`,
		`accesstoken_validations_total{accesstoken_outcome="rejected",accesstoken_reason="inactive",accesstoken_token_kind="opaque"} 2`,
		`accesstoken_validations_total{accesstoken_outcome="rejected",accesstoken_reason="no_token"} 1`,
		`accesstoken_validations_total{accesstoken_outcome="rejected",accesstoken_reason="revoked",accesstoken_token_kind="jwt"} 1`,
		`accesstoken_validations_total{accesstoken_outcome="rejected",accesstoken_reason="dpop_replay",accesstoken_token_kind="jwt"} 1`,
		`accesstoken_introspection_requests_total{accesstoken_outcome="success"} 2`,
		`accesstoken_introspection_cache_hits_total{accesstoken_cache="local"} 1`,
		`accesstoken_dpop_replays_total 1`,
		`accesstoken_revocation_hits_total 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if !regexp.MustCompile(`(?m)^accesstoken_keys_refreshes_total\{accesstoken_issuer="http://127\.0\.0\.1:\d+",accesstoken_outcome="success"\} 1$`).MatchString(got) {
		t.Errorf("no key refresh in:\n%s", got)
	}

	// The dashboard.
	raw, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{} // metric names
	labels := map[string]bool{} // label names
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		served[name] = true
		for _, m := range regexp.MustCompile(`(\w+)="`).FindAllStringSubmatch(rest, -1) {
			labels[m[1]] = true
		}
	}
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			for _, name := range regexp.MustCompile(`accesstoken_[a-z_]+`).FindAllString(target.Expr, -1) {
				queried++
				if strings.HasPrefix(name, "accesstoken_") && !served[name] && !labels[name] {
					t.Errorf("panel %q queries %s, which /metrics does not serve", p.Title, name)
				}
			}
		}
	}
	if queried < 9 {
		t.Fatalf("the dashboard queries %d accesstoken names; the check read nothing useful", queried)
	}
	for _, name := range []string{"accesstoken_validation_duration_seconds_bucket", "accesstoken_keys_age_seconds"} {
		if !served[name] {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
