package cli

import "github.com/spf13/cobra"

// formatsTopic is `ferry help formats`: the files a user writes, each with a
// short example and the document that lists every field.
func formatsTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "formats",
		Short: "The YAML files you write: training spec, job spec, promotion policy, validation gates, resources",
		Long: `The YAML files you write, each documented field by field, with defaults
and an example, in the repository's docs/ folder. A field Ferry does not
know is an error naming the file, the line and the closest valid field.

Training spec (ferry train -f FILE): docs/training-spec.md
  data: data:/flights/1
  target: delay
  positive_when: "> 15"
  features: [date:month, date:hour, distance, origin]
  trainer: gbdt
  params: {num_rounds: 100, max_depth: 6}
  split: {method: time, column: date, cut: 2001-05-01}

Job spec (ferry jobs submit -f FILE), Azure ML's command job: docs/job-spec.md
  type: command
  command: python train.py --lr ${{inputs.lr}} --out ${{outputs.model}}
  inputs: {lr: 0.1}
  outputs: {model: {type: uri_folder}}

Promotion policy (policy_file in the config, or FERRY_POLICY_FILE): docs/policy.md
  default:
    stages: {Production: {approval: true}}
    aliases: {champion: {validation: {gates: gates.yaml, baseline: "@champion"}}}

Validation gates (ferry validate --policy FILE): docs/gates.md
  thresholds: {roc_auc: ">= 0.70"}
  baseline: {roc_auc: {min_absolute_change: 0.0}}
  data: {max_missing_rate_increase: 0.1}

Resources (ferry plan|apply -f PATH), Azure ML's online endpoints and
deployments, any number of documents per file: docs/resources.md
  kind: Endpoint
  name: churn
  traffic: {blue: 90, green: 10}
  ---
  kind: Deployment
  name: blue
  endpoint_name: churn
  model: models:/churn@champion

The configuration file (--config, ./ferry.yaml): ferry config show prints
every setting with its value.`,
	}
}
