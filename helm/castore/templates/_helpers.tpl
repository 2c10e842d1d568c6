{{/* Names, truncated to the 63 characters a DNS label allows. */}}
{{- define "castore.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "castore.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "castore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "castore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "castore.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "castore.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: frontend
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "castore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "castore.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "castore.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "castore.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "castore.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{- define "castore.tokensSecretName" -}}
{{- default (printf "%s-tokens" (include "castore.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Whether clients must present certificates (mutual TLS). */}}
{{- define "castore.mutualTLS" -}}
{{- if and .Values.tls.enabled (or (and .Values.tls.existingSecret .Values.tls.verifyClients) (and (not .Values.tls.existingSecret) .Values.tls.clientCA)) }}true{{ end }}
{{- end }}

{{/* Where the near cache lives when storage.cache.type is emptyDir. */}}
{{- define "castore.cacheDir" -}}/var/cache/castore{{- end }}

{{/*
The composition config (see the repository README): services named
"default" are served. Far: blobs on an object store; directories as bundles
on an object store or in Bigtable. Near (storage.cache.type): memory, or an
emptyDir holding chunk files and an embedded directory database.
*/}}
{{- define "castore.config" -}}
{{- if .Values.storage.config }}
{{- .Values.storage.config }}
{{- else }}
{{- $s := .Values.storage }}
{{- $cache := $s.cache.type }}
{{- $blobsURL := required "storage.blobs.url is required: s3://BUCKET/PREFIX?region=REGION or gs://BUCKET/PREFIX" $s.blobs.url }}
{{- $blobFar := dict "type" "objectstore" "url" $blobsURL }}
{{- if $s.blobs.avgChunkSize }}{{ $_ := set $blobFar "avg_chunk_size" (int $s.blobs.avgChunkSize) }}{{ end }}
{{- $dirFar := dict }}
{{- if eq $s.directories.type "bigtable" }}
{{- $bt := $s.directories.bigtable }}
{{- $dirFar = dict "type" "bigtable" "project_id" $bt.projectId "instance_name" $bt.instanceName "table_name" $bt.tableName "family_name" $bt.familyName "app_profile_id" $bt.appProfileId "channel_size" (int $bt.channelSize) "timeout" $bt.timeout }}
{{- if .Values.server.readOnly }}{{ $_ := set $dirFar "is_read_only" true }}{{ end }}
{{- else }}
{{- $dirFar = dict "type" "objectstore" "url" (default $blobsURL $s.directories.bundles.url) }}
{{- end }}
{{- $blobs := dict }}
{{- $dirs := dict }}
{{- if eq $cache "none" }}
{{- $_ := set $blobs "default" $blobFar }}
{{- $_ := set $dirs "default" $dirFar }}
{{- else }}
{{- if eq $cache "memory" }}
{{- $_ := set $blobs "near" (dict "type" "memory" "max_bytes" (int64 $s.cache.memory.maxBytes)) }}
{{- $_ := set $dirs "near" (dict "type" "memory") }}
{{- else }}
{{- $_ := set $blobs "near" (dict "type" "objectstore" "url" (printf "pack://%s/packs" (include "castore.cacheDir" .)) "max_bytes" (int64 $s.cache.emptyDir.maxBytes)) }}
{{- $_ := set $dirs "near" (dict "type" "embedded" "path" (printf "%s/directories.db" (include "castore.cacheDir" .))) }}
{{- end }}
{{- $_ := set $blobs "far" $blobFar }}
{{- $_ := set $dirs "far" $dirFar }}
{{- $_ := set $blobs "default" (dict "type" "combined" "near" "near" "far" "far" "write" "both") }}
{{- $_ := set $dirs "default" (dict "type" "cache" "near" "near" "far" "far") }}
{{- end }}
{{- toYaml (dict "blobservices" $blobs "directoryservices" $dirs) }}
{{- end }}
{{- end }}

{{/* The arguments of the container: `castore serve` and its flags. */}}
{{- define "castore.args" -}}
- serve
- --listen=:{{ .Values.server.port }}
- --config=/etc/castore/config/config.yaml
- --log-format={{ .Values.server.logFormat }}
- --log-level={{ .Values.server.logLevel }}
- --grace-period={{ .Values.server.gracePeriod }}
- --drain-delay={{ .Values.server.drainDelay }}
- --max-connection-age={{ .Values.server.maxConnectionAge }}
- --max-connection-age-grace={{ .Values.server.maxConnectionAgeGrace }}
- --max-concurrent-streams={{ .Values.server.maxConcurrentStreams }}
{{- if .Values.metrics.enabled }}
- --metrics-listen=:{{ .Values.metrics.port }}
{{- end }}
{{- if .Values.server.readOnly }}
- --read-only
{{- end }}
{{- if .Values.tls.enabled }}
- --tls-cert=/etc/castore/tls/tls.crt
- --tls-key=/etc/castore/tls/tls.key
{{- if include "castore.mutualTLS" . }}
- --tls-client-ca=/etc/castore/tls/ca.crt
{{- end }}
{{- end }}
{{- if .Values.auth.enabled }}
- --auth-tokens=/etc/castore/auth/{{ .Values.auth.secretKey }}
{{- end }}
{{- if .Values.insecure }}
- --insecure-listen
{{- end }}
{{- with .Values.server.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes: kubelet gRPC probes of the health service, or TCP with TLS. */}}
{{- define "castore.probeHandler" -}}
{{- if .Values.tls.enabled -}}
tcpSocket:
  port: grpc
{{- else -}}
grpc:
  port: {{ .Values.server.port }}
{{- end }}
{{- end }}

{{/* Topology spread constraints, with the pod labels as default selector. */}}
{{- define "castore.topologySpread" -}}
{{- $out := list }}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "castore.selectorLabels" $ | fromYaml)) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Rules that cross keys, with messages that say what to do. (Types, enums
and formats are checked by values.schema.json.)
*/}}
{{- define "castore.validate" -}}
{{- if not (or .Values.tls.enabled .Values.insecure) }}
{{- if .Values.auth.enabled }}
{{- fail "castore refuses to serve a non-loopback address without protection: auth.enabled without tls.enabled sends the tokens in clear text; set tls.enabled, or insecure: true (plaintext)" }}
{{- end }}
{{- fail "castore refuses to serve a non-loopback address without protection: set tls.enabled, or insecure: true (plaintext)" }}
{{- end }}
{{- if and (not .Values.storage.config) (eq .Values.storage.directories.type "bundles") (eq .Values.storage.cache.type "none") }}
{{- fail "storage.cache.type none does not work with storage.directories.type bundles: bundles keep only whole closures by their root, and the near cache serves subdirectories; use memory or emptyDir" }}
{{- end }}
{{- if and .Values.tls.enabled .Values.tls.existingSecret (or .Values.tls.cert .Values.tls.key .Values.tls.clientCA) }}
{{- fail "tls: give either tls.existingSecret or tls.cert/tls.key/tls.clientCA, not both" }}
{{- end }}
{{- if and .Values.auth.enabled .Values.auth.existingSecret .Values.auth.tokens }}
{{- fail "auth: give either auth.existingSecret or auth.tokens, not both" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas" }}
{{- end }}
{{- if and (not .Values.metrics.enabled) .Values.metrics.serviceMonitor.enabled }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- end }}
