package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/castore-go/castore/internal/testenv"
)

// renderedServe renders helm/castore with a values file (relative to the
// chart, or written from inline YAML) and returns the container args and
// plain env of its Deployment.
func renderedServe(t *testing.T, valuesFile, inline string) (args []string, env map[string]string) {
	t.Helper()
	helm := testenv.Tool(t, "helm")
	chart := filepath.Join(testenv.RepoRoot(t), "helm", "castore")
	cmdArgs := []string{"template", "castore", chart, "--kube-version", "1.31.0"}
	switch {
	case valuesFile != "":
		cmdArgs = append(cmdArgs, "-f", filepath.Join(chart, valuesFile))
	case inline != "":
		p := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(p, []byte(inline), 0o644); err != nil {
			t.Fatal(err)
		}
		cmdArgs = append(cmdArgs, "-f", p)
	}
	home := t.TempDir()
	cmd := exec.Command(helm, cmdArgs...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home, "KUBECONFIG="+home+"/kubeconfig")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(cmdArgs, " "), err, stderr.String())
	}
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(out), -1) {
		var d struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
							Env  []struct {
								Name  string `yaml:"name"`
								Value string `yaml:"value"`
							} `yaml:"env"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		if n := len(d.Spec.Template.Spec.Containers); n != 1 {
			t.Fatalf("the Deployment has %d containers, want 1", n)
		}
		c := d.Spec.Template.Spec.Containers[0]
		env = map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		return c.Args, env
	}
	t.Fatal("the chart rendered no Deployment")
	return nil, nil
}

// TestChartServeFlags runs serve's own flag parser and checks on the
// arguments (and CASTORE_* environment) the Helm chart gives the
// container, for its defaults, its examples, and a set with every option
// that adds a flag.
func TestChartServeFlags(t *testing.T) {
	sets := []struct{ name, file, inline string }{
		{name: "default"},
		{name: "aws", file: "examples/aws-values.yaml"},
		{name: "gcp", file: "examples/gcp-values.yaml"},
		{name: "every flag", inline: `
insecure: false
tls:
  enabled: true
  cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  key: "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n"
  clientCA: "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
auth:
  enabled: true
  tokens: ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 read"]
server:
  readOnly: true
  logFormat: text
  logLevel: warn
  gracePeriod: 1m30s
  maxConcurrentStreams: 64
  extraArgs: ["--data-dir=/tmp/unused"]
  extraEnv: [{name: CASTORE_LOG_LEVEL, value: debug}]
`},
	}
	for _, s := range sets {
		t.Run(s.name, func(t *testing.T) {
			args, cenv := renderedServe(t, s.file, s.inline)
			if len(args) == 0 || args[0] != "serve" {
				t.Fatalf("container args %q: want serve and its flags", args)
			}
			var stderr bytes.Buffer
			env := &environment{stderr: &stderr, getenv: func(k string) string { return cenv[k] }}
			fs, f, err := parseServeFlags(env, args[1:])
			if err != nil {
				t.Fatalf("castore serve %s: %v\n%s", strings.Join(args[1:], " "), err, stderr.String())
			}
			if f.store.config != "/etc/castore/config/config.yaml" {
				t.Errorf("--config %q, want the chart's ConfigMap mount", f.store.config)
			}
			if isLocalListen(*f.listen) {
				t.Errorf("--listen %q is loopback only: no Service could reach it", *f.listen)
			}
			set := 0
			fs.Visit(func(*flag.Flag) { set++ })
			if set != len(args)-1 {
				t.Errorf("%d flags set from %d arguments %q", set, len(args)-1, args[1:])
			}
			t.Logf("castore %s", strings.Join(args, " "))
		})
	}
}

// TestChartServeFlagsCatchesBadArgs: the check above fails on a flag that
// serve does not have and on a value it refuses.
func TestChartServeFlagsCatchesBadArgs(t *testing.T) {
	for _, extra := range []string{"--no-such-flag", "--log-format=xml", "--grace-period=soon"} {
		args, cenv := renderedServe(t, "", "server: {extraArgs: [\""+extra+"\"]}")
		env := &environment{stderr: &bytes.Buffer{}, getenv: func(k string) string { return cenv[k] }}
		if _, _, err := parseServeFlags(env, args[1:]); err == nil {
			t.Errorf("serve accepted %q", extra)
		}
	}
}
