{{/* The CronJob's ServiceAccount: its own, so that only it may delete. */}}
{{- define "castore.gcServiceAccountName" -}}
{{- if .Values.gc.serviceAccount.create }}
{{- default (printf "%s-gc" (include "castore.fullname" .) | trunc 63 | trimSuffix "-") .Values.gc.serviceAccount.name }}
{{- else }}
{{- required "gc.serviceAccount.name is required when gc.serviceAccount.create is false" .Values.gc.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "castore.gcLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ printf "%s-gc" (include "castore.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: gc
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The composition `castore gc` runs on: the far stores alone (no near
cache), and the tags under refs/ on the object store of the bundles (where
castore keeps them beside bundles), or of the blobs beside Bigtable.
*/}}
{{- define "castore.gcConfig" -}}
{{- $s := .Values.storage }}
{{- $blobsURL := required "storage.blobs.url is required: s3://BUCKET/PREFIX?region=REGION or gs://BUCKET/PREFIX" $s.blobs.url }}
{{- $blobFar := dict "type" "objectstore" "url" $blobsURL }}
{{- if $s.blobs.avgChunkSize }}{{ $_ := set $blobFar "avg_chunk_size" (int $s.blobs.avgChunkSize) }}{{ end }}
{{- $dirFar := dict }}
{{- $refsURL := $blobsURL }}
{{- if eq $s.directories.type "bigtable" }}
{{- $bt := $s.directories.bigtable }}
{{- $dirFar = dict "type" "bigtable" "project_id" $bt.projectId "instance_name" $bt.instanceName "table_name" $bt.tableName "family_name" $bt.familyName "app_profile_id" $bt.appProfileId "channel_size" (int $bt.channelSize) "timeout" $bt.timeout "is_read_only" true }}
{{- else }}
{{- $refsURL = default $blobsURL $s.directories.bundles.url }}
{{- $dirFar = dict "type" "objectstore" "url" $refsURL }}
{{- end }}
{{- toYaml (dict "blobservices" (dict "default" $blobFar) "directoryservices" (dict "default" $dirFar) "refservices" (dict "default" (dict "type" "objectstore" "url" $refsURL))) }}
{{- end }}

{{/* The arguments of the CronJob's container. */}}
{{- define "castore.gcArgs" -}}
- gc
- --config=/etc/castore/config/gc.yaml
- --grace={{ .Values.gc.grace }}
- --run-size={{ int64 .Values.gc.runSize }}
- --temp-dir=/scratch
{{- if .Values.gc.dryRun }}
- --dry-run
{{- end }}
{{- with .Values.gc.metricsPushURL }}
- --metrics-push={{ . }}
{{- end }}
{{- with .Values.gc.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}
