// Package cli is the ferry command line and Ferry's composition root: the only
// package that knows every concrete store, blob store and server type, and
// wires them together from the configuration.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/suggest"
)

// Env is the process environment a command runs in.
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string // KEY=VALUE pairs, as os.Environ returns them
}

func (e Env) lookup(key string) string {
	for _, kv := range e.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app holds what every command shares: the environment and global flags.
type app struct {
	env        Env
	configPath string
	dataDir    string
	serverURL  string
	output     string
}

// Run runs the ferry command line with args and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	var ce codeError
	switch {
	case errors.As(err, &ce):
		if ce.err != nil {
			fmt.Fprintf(env.Stderr, "Error: %s\n", userMessage(ce.err))
		}
		return ce.code
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "Error: %s\nRun '%s --help' for usage.\n", ue.msg, ue.cmd)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(env.Stderr, "Interrupted.")
		return exitError
	}
	fmt.Fprintf(env.Stderr, "Error: %s\n", userMessage(err))
	return exitError
}

// userMessage renders err for a person: server and validation errors by their
// message, anything else in full.
func userMessage(err error) string {
	var ce *client.Error
	var fe *ferry.Error
	switch {
	case errors.As(err, &ce):
		return ce.Message
	case errors.As(err, &fe):
		return fe.Message
	}
	return err.Error()
}

// usageError is a mistake in how a command was called.
type usageError struct{ cmd, msg string }

func (e usageError) Error() string { return e.msg }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf(format, args...)}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Ferry runs the machine-learning lifecycle: track, train, package, validate, deploy, monitor",
		Long: `Ferry runs the whole model lifecycle from one binary.

Start with the demo, which needs nothing but this binary:

  ferry demo

Track experiments against a server (it speaks MLflow's REST API too, so
MLFLOW_TRACKING_URI=http://127.0.0.1:5000 works with the mlflow client):

  ferry server
  ferry experiments list --server http://127.0.0.1:5000`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       ferry.Version,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usagef(cmd, "%s", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "config file (default: ./ferry.yaml when present; env FERRY_CONFIG)")
	pf.StringVar(&a.dataDir, "data", "", "data directory for the embedded store (default .ferry; env FERRY_DATA_DIR)")
	pf.StringVar(&a.serverURL, "server", "", "URL of a Ferry server to talk to instead of the local data directory (env FERRY_SERVER)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	root.AddCommand(
		a.serverCommand(),
		a.experimentsCommand(),
		a.runsCommand(),
		a.dataCommand(),
		a.trainCommand(),
		a.validateCommand(),
		a.modelsCommand(),
		a.jobsCommand(),
		a.planCommand(), a.applyCommand(),
		a.endpointsCommand(), a.deploymentsCommand(),
		a.monitorCommand(),
		a.configCommand(),
		a.demoCommand(),
		a.versionCommand(),
		a.serveCommand(), a.predictCommand(),
		formatsTopic(),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group (a command with
// subcommands and nothing to run itself) answer an unknown subcommand with a
// usage error (exit 2) naming the closest commands, instead of help and exit
// 0. Without arguments a group still prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
				names = append(names, sub.Aliases...)
			}
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := suggest.Closest(args[0], names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return usageError{cmd: cmd.CommandPath(), msg: msg}
	}
}

// loadConfig reads the configuration: defaults, the config file, FERRY_*
// environment variables, then command-line flags; validated and resolved.
func (a *app) loadConfig() (config.Config, error) {
	path := a.configPath
	if path == "" {
		path = a.env.lookup("FERRY_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat("ferry.yaml"); err == nil {
			path = "ferry.yaml"
		}
	}
	cfg, err := config.Load(path, a.env.Environ)
	if err != nil {
		return cfg, err
	}
	if a.dataDir != "" {
		cfg.DataDir = a.dataDir
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg.Resolved(), nil
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Ferry's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "ferry %s\n", ferry.Version)
			return nil
		},
	}
}
