#!/usr/bin/env bash
# Interoperability run against panva's oidc-provider, a real authorization
# server nobody here wrote. It installs the server (versions pinned by
# package-lock.json), starts it on 127.0.0.1, waits for its discovery
# document, runs the Go tests of ../ against it, and stops the one process it
# started. Arguments go to `go test`.
#
# Without Node.js it skips with a message; in CI (CI=true) that is a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [[ ${CI:-} == true ]]; then
    echo "interop: node and npm are required in CI" >&2
    exit 1
  fi
  echo "interop: SKIPPED: node/npm not found; install Node.js 20 or later to run the oidc-provider tests"
  exit 0
fi

started=$(date +%s)
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
# The MCP conformance runner and TypeScript SDK for mcp_test.go (with Node 22
# from npm: the runner needs it).
(cd "$here/../mcp" && npm ci --no-audit --no-fund --loglevel=error)

ADMIN_SECRET=$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')
export ADMIN_SECRET
# A throwaway CA and server certificate for the HTTPS (mutual TLS) listener.
TLS_DIR=$(mktemp -d)
export TLS_DIR
(cd "$here/.." && go run ./testca "$TLS_DIR")
log=$(mktemp)
node "$here/server.mjs" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  rm -rf "$TLS_DIR"
}
trap cleanup EXIT

issuer=""
for _ in $(seq 1 200); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "interop: oidc-provider exited:" >&2; cat "$log" >&2; exit 1
  fi
  issuer=$(sed -n 's/^ISSUER //p' "$log")
  if [[ -n $issuer ]] && node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
      "$issuer/.well-known/openid-configuration"; then
    break
  fi
  issuer=""
  sleep 0.1
done
if [[ -z $issuer ]]; then
  echo "interop: oidc-provider did not serve its discovery document in time:" >&2; cat "$log" >&2; exit 1
fi
echo "interop: oidc-provider $(node -p 'require("'"$here"'/node_modules/oidc-provider/package.json").version') at $issuer (ready after $(( $(date +%s) - started ))s)"

mtls=$(sed -n 's/^MTLS //p' "$log")
if [[ -z $mtls ]]; then
  echo "interop: oidc-provider has no HTTPS listener:" >&2; cat "$log" >&2; exit 1
fi
export ACCESSTOKEN_INTEROP_ISSUER=$issuer ACCESSTOKEN_INTEROP_ADMIN_SECRET=$ADMIN_SECRET
export ACCESSTOKEN_INTEROP_MTLS=$mtls ACCESSTOKEN_INTEROP_TLS_DIR=$TLS_DIR
(cd "$here/.." && go test -race -count=1 "$@" ./...)
echo "interop: done in $(( $(date +%s) - started ))s"
