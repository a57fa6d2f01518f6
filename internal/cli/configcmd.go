package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the configuration in effect (file, FERRY_* environment and flags), secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.serverURL != "" {
				return usagef(cmd, "ferry config show prints the configuration of this machine; --server does not apply")
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			red := cfg.Redacted()
			if a.output == "json" {
				return a.render(cmd.OutOrStdout(), red, nil)
			}
			b, err := red.YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	})
	return cmd
}
