package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"

	"github.com/castore-go/castore/internal/testenv"
)

// renderedServe renders helm/castore with a values file (relative to the
// chart, or written from inline YAML) and returns the container args and
// plain env of its Deployment.
func renderedServe(t *testing.T, valuesFile, inline string) (args []string, env map[string]string) {
	args, env, _ = renderedServeConfig(t, valuesFile, inline)
	return args, env
}

// renderedServeConfig is renderedServe that also returns the composition
// config of the chart's ConfigMap.
func renderedServeConfig(t *testing.T, valuesFile, inline string) (args []string, env map[string]string, config string) {
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
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
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
		if d.Kind == "ConfigMap" {
			config = d.Data["config.yaml"]
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
		args = c.Args
	}
	if args == nil {
		t.Fatal("the chart rendered no Deployment")
	}
	return args, env, config
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
  drainDelay: 500ms
  maxConnectionAge: 2m
  maxConnectionAgeGrace: 1h
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
			if s.name == "default" && (*f.maxConnAge != DefaultMaxConnectionAge || *f.maxConnGrace != DefaultMaxConnectionAgeGrace || *f.drainDelay != DefaultDrainDelay) {
				t.Errorf("the chart's defaults: --max-connection-age %s, --max-connection-age-grace %s, --drain-delay %s; want serve's, %s, %s and %s",
					*f.maxConnAge, *f.maxConnGrace, *f.drainDelay, DefaultMaxConnectionAge, DefaultMaxConnectionAgeGrace, DefaultDrainDelay)
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
	for _, extra := range []string{"--no-such-flag", "--log-format=xml", "--grace-period=soon", "--drain-delay=-1s", "--max-connection-age=-5m"} {
		args, cenv := renderedServe(t, "", "server: {extraArgs: [\""+extra+"\"]}")
		env := &environment{stderr: &bytes.Buffer{}, getenv: func(k string) string { return cenv[k] }}
		if _, _, err := parseServeFlags(env, args[1:]); err == nil {
			t.Errorf("serve accepted %q", extra)
		}
	}
}

// TestChartServeRuns runs castore serve in process with the arguments the
// chart renders (its config file written where --config says, listeners
// moved to loopback) and checks what the pod's probes and the Service rely
// on: the gRPC health service on the gRPC port says SERVING, and the
// metrics port serves /metrics. The config is a memory-only override, as
// the far stores of the chart's defaults are cloud buckets.
func TestChartServeRuns(t *testing.T) {
	grpcPort, metricsPort := testenv.FreePort(t), testenv.FreePort(t)
	args, cenv, config := renderedServeConfig(t, "", fmt.Sprintf(`
server: {port: %d}
metrics: {port: %d}
storage:
  config: |
    blobservices:
      default: {type: memory}
    directoryservices:
      default: {type: memory}
`, grpcPort, metricsPort))
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var moved []string
	for _, a := range args {
		switch {
		case a == fmt.Sprintf("--listen=:%d", grpcPort):
			a = fmt.Sprintf("--listen=127.0.0.1:%d", grpcPort)
		case a == fmt.Sprintf("--metrics-listen=:%d", metricsPort):
			a = fmt.Sprintf("--metrics-listen=127.0.0.1:%d", metricsPort)
		case a == "--config=/etc/castore/config/config.yaml":
			a = "--config=" + cfgPath
		}
		moved = append(moved, a)
	}
	if len(moved) != len(args) || slices.Equal(moved, args) {
		t.Fatalf("nothing to move in %q", args)
	}
	for _, want := range []string{"--listen=127.0.0.1:", "--metrics-listen=127.0.0.1:", "--config=" + cfgPath} {
		if !slices.ContainsFunc(moved, func(a string) bool { return strings.HasPrefix(a, want) }) {
			t.Fatalf("the chart's args %q lack the flag moved to %q", args, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	var stderr safeBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr,
		getenv: func(k string) string { return cenv[k] }, onListen: func(a net.Addr) { listening <- a }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, moved) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of SIGTERM")
		}
	})
	var addr net.Addr
	select {
	case addr = <-listening:
	case code := <-done:
		t.Fatalf("castore %s exited %d\n%s", strings.Join(moved, " "), code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30s\n%s", stderr.String())
	}

	// The kubelet's gRPC probe: Health/Check of service "" on the port.
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	var status healthpb.HealthCheckResponse_ServingStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		if err == nil {
			if status = resp.Status; status == healthpb.HealthCheckResponse_SERVING {
				break
			}
		}
	}
	if status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status %v, want SERVING\n%s", status, stderr.String())
	}

	// The metrics port of the Service and the ServiceMonitor.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("GET /metrics: %s\n%.500s", resp.Status, body)
	}
}

// safeBuffer is a bytes.Buffer the server's logger and the test may use
// at once.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
