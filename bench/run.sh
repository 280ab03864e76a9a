#!/usr/bin/env bash
# Prints the comparison table: ROUNDS rounds (default 5), each running every
# contender back to back, so that ratios to the floor compare numbers taken
# moments apart on the same machine. BENCHTIME sets each benchmark's time
# (default 1s). Extra arguments go to `go test`, e.g. -bench 'FirstSeen/RS256'.
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-1s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -count=1 -run 'TestContendersAgree' . >/dev/null # nobody is measured doing less work
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  go test -run '^$' -bench "${BENCH:-.}" -benchmem -benchtime "$BENCHTIME" -count 1 "$@" . >>"$out"
done
go version
grep -E '^(goos|goarch|cpu):' "$out" | sort -u
go run ./cmd/table <"$out"
