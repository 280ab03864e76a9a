// Command accesstoken says why an access token is accepted or refused,
// decodes one without verifying it, and checks what an issuer publishes.
//
//	accesstoken check    [flags] [TOKEN|FILE|-]   validate and explain; exit 0 accepted, 1 refused, 2 usage or configuration, 3 unavailable
//	accesstoken inspect  [flags] [TOKEN|FILE|-]   decode header and claims WITHOUT verifying them
//	accesstoken discover [flags] ISSUER      fetch metadata and keys, report what is wrong with them; exit 0, 1 problems, 3 unreachable
//	accesstoken serve    [flags]             ForwardAuth over HTTP and Envoy ext_authz over gRPC from one configuration
//	accesstoken version                      print the command's version ("accesstoken v0.1.0")
//
// The token comes from the argument (the token, or a file holding it), or
// from standard input with "-" or no argument (a leading "Bearer " or
// "DPoP " is dropped). The command sends a
// token nowhere but the configured issuer's endpoints (and only check does,
// for introspection or Google's tokeninfo); never paste tokens into
// websites. Requests follow HTTPS_PROXY and trust SSL_CERT_FILE as Go
// programs do.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK          = 0
	exitRefused     = 1 // check: refused; discover: problems found
	exitUsage       = 2 // usage or configuration
	exitUnavailable = 3 // the issuer could not be reached
)

const usage = `usage: accesstoken <command> [flags] [arguments]

commands:
  check     [flags] [TOKEN|FILE|-]   validate a token and explain the verdict, check by check
  inspect   [flags] [TOKEN|FILE|-]   decode a token's header and claims WITHOUT verifying them
  discover  [flags] ISSUER      fetch an issuer's metadata and keys and report what is wrong
  serve     [flags]             ForwardAuth over HTTP and Envoy ext_authz over gRPC, for any gateway
  version                       print the version of this command

Run "accesstoken <command> -h" for a command's flags. Tokens never leave
this machine except to the configured issuer; never paste them into websites.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var code int
	switch args[0] {
	case "check":
		code = runCheck(ctx, args[1:], stdin, stdout, stderr)
	case "inspect":
		code = runInspect(args[1:], stdin, stdout, stderr)
	case "discover":
		code = runDiscover(ctx, args[1:], stdout, stderr)
	case "serve":
		code = runServe(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "accesstoken: version takes no arguments\n")
			return exitUsage
		}
		fmt.Fprintf(stdout, "accesstoken %s\n", version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "accesstoken: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return code
}
