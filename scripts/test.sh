#!/usr/bin/env bash
# Runs every check of every module: the one command behind "all tests" in the
# README and behind CI. FUZZTIME sets how long each fuzz target runs, as go
# test's -fuzztime takes it (default 20000x; 0 skips fuzzing). The default is
# a count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" at the deadline with no
# failing input (golang/go#75804, fixed in Go 1.27). NEWEST_GO names the
# toolchain of the main run (default go1.27.3; "local" for the installed one).
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME=${FUZZTIME:-20000x}

# Every module is checked on the newest Go (the go command fetches it
# through the module proxy), and the core also on the Go of its go line
# (below). NEWEST_GO=local keeps the installed toolchain.
NEWEST_GO=${NEWEST_GO:-go1.27.3}
if [[ $NEWEST_GO != local ]]; then
  export GOTOOLCHAIN=$NEWEST_GO
fi
echo "== toolchain: $(go version)"

echo "== gofmt"
unformatted=$(gofmt -l . | grep -v '^testdata/' || true)
if [[ -n $unformatted ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== core module graph: no gRPC, protobuf, echo, gin or Connect"
if GOWORK=off go list -m all | grep -E 'google.golang.org/(grpc|protobuf)|labstack/echo|gin-gonic|connectrpc.com'; then
  echo "the core module must not depend on an adapter's framework"; exit 1
fi

# The release rules every commit keeps (RELEASING.md): versions.txt names
# every go.mod, siblings are required at the set's version and replaced only
# by directory, no tracked file is over 1 MiB, each module builds, vets and
# is tidy on its own (GOWORK=off), and the exported API of every released
# module matches its record in api/.
echo "== release rules"
(cd tools && GOWORK=off go vet ./... && GOWORK=off go test -count=1 ./...)
(cd tools && GOWORK=off go run ./release check)
(cd tools && GOWORK=off go run ./release tidy)
(cd tools && GOWORK=off go run ./release api -check)

# Every module of the workspace (go.work), the core first.
mapfile -t modules < <(go list -m -f '{{.Dir}}')
for dir in "${modules[@]}"; do
  rel=${dir#"$PWD"}; rel=.${rel}
  echo "== $rel: go vet"
  (cd "$dir" && go vet ./...)
  echo "== $rel: staticcheck"
  (cd "$dir" && go run "$STATICCHECK" ./...)
  if [[ $rel == ./interop ]]; then
    # Needs a real authorization server: the script installs, starts and
    # stops it. Without Node.js it skips, except in CI.
    echo "== $rel: go test -race against oidc-provider"
    ./interop/oidc-provider/run.sh
  else
    echo "== $rel: go test -race"
    (cd "$dir" && go test -race -count=1 -skip '^TestLoad' ./...)
  fi
done

# ML-DSA against a second implementation (lestrrat-go/jwx v4), both
# directions: a module outside the workspace, since it needs Go 1.27
# (crypto/mldsa) and the workspace does not.
echo "== ./interop/mldsa: ML-DSA tokens between accesstoken and lestrrat-go/jwx (Go 1.27)"
(cd interop/mldsa && export GOWORK=off GOTOOLCHAIN=go1.27.3 && go vet ./... && go run "$STATICCHECK" ./... && go test -race -count=1 -v ./... | grep -E '^(--- |ok|FAIL|PASS)')

# The bounded reliability test (a few seconds of concurrent load while the
# issuer rotates keys and goes down), run on its own so that its figures show.
echo "== reliability: httpauth under load, key rotation and an outage"
go test -race -count=1 -run '^TestLoad' -v ./middleware/httpauth | grep -E '^(=== RUN|--- |ok|FAIL)|load_test\.go'

# The core's tests on the oldest Go its go.mod allows (its "go" line), as a
# user on that Go runs them; every module ran above on this toolchain.
oldest=go$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
echo "== core module on $oldest (its go line): go test"
GOTOOLCHAIN=$oldest GOWORK=off go version
GOTOOLCHAIN=$oldest GOWORK=off go test -count=1 -skip '^TestLoad' ./...

# What a release made now would commit, checked as users will get it: a
# file-system module proxy made from that tree, every released module built,
# vetted and tidy against it, and the consumer test (go get of every module,
# a program importing every package, go install of the command).
version=$(sed -n 's/^version //p' versions.txt)
echo "== release dry run at $version"
(cd tools && GOWORK=off go run ./release prepare -dry-run "$version")

if [[ $FUZZTIME != 0 ]]; then
  for spec in .:FuzzValidate .:FuzzProfileClaims .:FuzzJWE ./provider:FuzzTokenInfoAnswer .:FuzzMultiIssuer .:FuzzDPoPProof .:FuzzParseObject .:FuzzParseJWKS .:FuzzChallenge .:FuzzIntrospectionAnswer .:FuzzSharedIntrospection \
              ./bearer:FuzzFromAuthorization ./bearer:FuzzForwarded ./operation:FuzzParse ./ssf:FuzzSET; do
    pkg=${spec%%:*} target=${spec#*:}
    echo "== fuzz $pkg $target for $FUZZTIME"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
fi
echo "== all checks passed"
