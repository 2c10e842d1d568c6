package deploy

import (
	"strings"
	"testing"
)

// TestChartRejectsBadValues: values.schema.json (and the chart's own
// cross-key rules) refuse bad values with a message naming the problem.
func TestChartRejectsBadValues(t *testing.T) {
	cases := []struct {
		name   string
		values string
		want   string // in helm's error
	}{
		{"replicas not a number", `replicaCount: two`, "at '/replicaCount': got string, want integer"},
		{"misspelt key", `replicas: 3`, "additional properties 'replicas' not allowed"},
		{"misspelt nested key", `storage: {blobs: {uri: "s3://b"}}`, "additional properties 'uri' not allowed"},
		{"blob store URL without a scheme", `storage: {blobs: {url: "my-bucket"}}`, "at '/storage/blobs/url'"},
		{"unknown directory store", `storage: {directories: {type: postgres}}`, "at '/storage/directories/type'"},
		{"bigtable without its names", `storage: {directories: {type: bigtable}}`, "at '/storage/directories/bigtable/instanceName': minLength"},
		{"unknown cache", `storage: {cache: {type: redis}}`, "at '/storage/cache/type'"},
		{"memory cache of no bytes", `storage: {cache: {memory: {maxBytes: 0}}}`, "at '/storage/cache/memory/maxBytes'"},
		{"emptyDir cache of no bytes", `storage: {cache: {type: emptyDir, emptyDir: {maxBytes: 0}}}`, "at '/storage/cache/emptyDir/maxBytes'"},
		{"bundles without a near cache", `storage: {cache: {type: none}}`, "storage.cache.type none does not work with storage.directories.type bundles"},
		{"bad token line", `auth: {enabled: true, tokens: ["hunter2 write"]}`, "at '/auth/tokens/0': 'hunter2 write' does not match pattern"},
		{"tokens on but none given", `auth: {enabled: true}`, "at '/auth/tokens': minItems"},
		{"tls on without a certificate", `tls: {enabled: true}`, "at '/tls/cert': '' does not match pattern '-----BEGIN CERTIFICATE-----'"},
		{"unprotected without insecure", `insecure: false`, "castore refuses to serve a non-loopback address without protection"},
		{"root", `podSecurityContext: {runAsNonRoot: false}`, "at '/podSecurityContext/runAsNonRoot'"},
		{"bad log level", `server: {logLevel: verbose}`, "at '/server/logLevel'"},
		{"bad grace period", `server: {gracePeriod: "20"}`, "at '/server/gracePeriod'"},
		{"port out of range", `server: {port: 70000}`, "at '/server/port': maximum"},
		{"bad IRSA role", `serviceAccount: {awsRoleArn: "castore"}`, "at '/serviceAccount/awsRoleArn'"},
		{"bad Workload Identity account", `serviceAccount: {gcpServiceAccount: "castore"}`, "at '/serviceAccount/gcpServiceAccount'"},
		{"bad pull policy", `image: {pullPolicy: Sometimes}`, "at '/image/pullPolicy'"},
		{"autoscaling min above max", `autoscaling: {minReplicas: 5, maxReplicas: 2}`, "autoscaling.minReplicas is above autoscaling.maxReplicas"},
		{"service monitor without metrics", `metrics: {enabled: false, serviceMonitor: {enabled: true}}`, "metrics.serviceMonitor.enabled needs metrics.enabled"},
		{"both tls sources", `{tls: {enabled: true, existingSecret: s, cert: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----"}}`, "give either tls.existingSecret or tls.cert"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"template", "castore", chartDir(t), "--kube-version", kubeVersion}, valuesArgs(t, "", c.values)...)
			_, err := helm(t, args...)
			if err == nil {
				t.Fatalf("values %s rendered; want an error with %q", c.values, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("values %s: error lacks %q:\n%v", c.values, c.want, err)
			}
		})
	}
}
