package alert

import (
	"fmt"
	"net/url"
	"time"

	"github.com/ferry-ml/ferry"
)

// DefaultCooldown is the cool-down of a monitor whose config names none.
const DefaultCooldown = time.Hour

// Config is the alerts section of a monitor resource:
//
//	alerts:
//	  cooldown: 1h
//	  webhooks:
//	    - url: https://hooks.example.com/ferry
//	      secret_env: FERRY_HOOK_SECRET
//
// Secrets are never part of it: a webhook names the environment variable
// that holds its signing secret (and, for receivers whose URL is itself a
// secret, the one that holds its URL).
type Config struct {
	// Cooldown is the least time between two notifications of one alert, a
	// Go duration ("30m", "1h"); default 1h. A transition the cool-down
	// holds back is made, and notified, by the first evaluation after it
	// that still calls for it.
	Cooldown string `json:"cooldown,omitempty" yaml:"cooldown,omitempty"`
	// Webhooks receive every firing and resolved event of the monitor.
	Webhooks []WebhookConfig `json:"webhooks,omitempty" yaml:"webhooks,omitempty"`
}

// WebhookConfig is one webhook receiver.
type WebhookConfig struct {
	// Name labels the webhook in the delivery log; default the URL's
	// scheme, host and path.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// URL is the receiver's http or https URL; URLEnv names an environment
	// variable holding it instead. Exactly one of them is set.
	URL    string `json:"url,omitempty" yaml:"url,omitempty"`
	URLEnv string `json:"url_env,omitempty" yaml:"url_env,omitempty"`
	// SecretEnv names the environment variable holding the HMAC secret that
	// signs the body (X-Ferry-Signature). Without it the body is unsigned.
	SecretEnv string `json:"secret_env,omitempty" yaml:"secret_env,omitempty"`
}

// Validate checks c without reading the environment: durations parse, every
// webhook has one URL or URL variable, and URLs are http(s). Errors are
// EINVALID.
func (c Config) Validate() error {
	if _, err := c.cooldown(); err != nil {
		return err
	}
	for i, w := range c.Webhooks {
		if (w.URL == "") == (w.URLEnv == "") {
			return ferry.Errorf(ferry.EINVALID, "alerts: webhook %d: set exactly one of url and url_env", i+1)
		}
		if w.URL != "" {
			if err := checkURL(w.URL); err != nil {
				return ferry.Errorf(ferry.EINVALID, "alerts: webhook %d: %v", i+1, err)
			}
		}
	}
	return nil
}

func (c Config) cooldown() (time.Duration, error) {
	if c.Cooldown == "" {
		return DefaultCooldown, nil
	}
	d, err := time.ParseDuration(c.Cooldown)
	if err != nil || d < 0 {
		return 0, ferry.Errorf(ferry.EINVALID, "alerts: cooldown %q is not a duration such as 30m or 1h", c.Cooldown)
	}
	return d, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an http(s) URL", redactURL(s))
	}
	return nil
}

// redactURL returns the scheme, host and path of s: no user info, query or
// fragment, which may carry tokens.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid url)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// policy is a Config resolved against the environment.
type policy struct {
	cooldown time.Duration
	webhooks []webhook
}

// webhook is a resolved webhook receiver.
type webhook struct {
	name   string
	url    string
	secret string
}

// resolve validates c and reads its variables through getenv: a variable
// that is named but empty is EINVALID.
func (c Config) resolve(getenv func(string) string) (policy, error) {
	if err := c.Validate(); err != nil {
		return policy{}, err
	}
	p := policy{}
	p.cooldown, _ = c.cooldown()
	for i, w := range c.Webhooks {
		h := webhook{name: w.Name, url: w.URL}
		if w.URLEnv != "" {
			if h.url = getenv(w.URLEnv); h.url == "" {
				return policy{}, ferry.Errorf(ferry.EINVALID, "alerts: webhook %d: environment variable %s (url_env) is not set", i+1, w.URLEnv)
			}
			if err := checkURL(h.url); err != nil {
				return policy{}, ferry.Errorf(ferry.EINVALID, "alerts: webhook %d: %s: %v", i+1, w.URLEnv, err)
			}
			if h.name == "" {
				h.name = "env:" + w.URLEnv
			}
		}
		if w.SecretEnv != "" {
			if h.secret = getenv(w.SecretEnv); h.secret == "" {
				return policy{}, ferry.Errorf(ferry.EINVALID, "alerts: webhook %d: environment variable %s (secret_env) is not set", i+1, w.SecretEnv)
			}
		}
		if h.name == "" {
			h.name = redactURL(h.url)
		}
		p.webhooks = append(p.webhooks, h)
	}
	return p, nil
}
