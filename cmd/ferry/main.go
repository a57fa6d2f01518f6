// Command ferry runs the Ferry MLOps platform: the tracking server, the CLI and
// the demo. See `ferry --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-ml/ferry/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}
