{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "multinic-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. When the release name already contains the chart
name (the documented `helm upgrade --install multinic-operator …`), it is the
release name alone, so the Deployment is multinic-operator-controller-manager —
the name the maintenance guide's `kubectl logs deployment/…` command uses.
Truncated to leave room for the longest suffix ("-controller-manager").
*/}}
{{- define "multinic-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 44 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 44 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "multinic-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object: the chart's own, then commonLabels.
*/}}
{{- define "multinic-operator.labels" -}}
{{- include "multinic-operator.labelsWith" (list . dict) }}
{{- end }}

{{/*
The labels of one object: (list $ extra) adds the object's own labels
(a component, a ServiceMonitor's labels for Prometheus' selector). One map,
so a key given twice is written once: the chart's labels win (selectors and
`helm upgrade` depend on them), then the object's, then commonLabels.
*/}}
{{- define "multinic-operator.labelsWith" -}}
{{- $root := index . 0 }}
{{- $labels := include "multinic-operator.selectorLabels" $root | fromYaml }}
{{- $_ := set $labels "helm.sh/chart" (include "multinic-operator.chart" $root) }}
{{- $_ = set $labels "app.kubernetes.io/version" ($root.Values.image.tag | default $root.Chart.AppVersion | toString | trunc 63) }}
{{- $_ = set $labels "app.kubernetes.io/managed-by" $root.Release.Service }}
{{- $_ = set $labels "app.kubernetes.io/part-of" "multinic-operator" }}
{{- toYaml (merge $labels (index . 1 | default dict) ($root.Values.commonLabels | default dict)) }}
{{- end }}

{{/*
Selector labels: immutable on the Deployment, so nothing that changes between
upgrades (version, chart) belongs here.
*/}}
{{- define "multinic-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "multinic-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{- define "multinic-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "multinic-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set (it pins the
exact image, so it wins over the tag), else repository:tag with the tag
defaulting to the chart's appVersion. toString keeps a numeric tag given with
--set (image.tag=20250101) intact.
*/}}
{{- define "multinic-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Refuses replica counts the operator cannot serve correctly. Leader election
keeps one reconciler, but the inventory is one file that the leader writes
and every replica reads only once, at start.
*/}}
{{- define "multinic-operator.validateReplicas" -}}
{{- if gt (int .Values.replicaCount) 1 }}
{{- if not .Values.leaderElection.enabled }}
{{- fail (printf "replicaCount=%v needs leaderElection.enabled=true: without it every replica reconciles the same OpenstackConfigs at once and they post to Viola and write status over each other." (toString .Values.replicaCount)) }}
{{- end }}
{{- if .Values.inventory.enabled }}
{{- fail (printf "replicaCount=%v is refused while inventory.enabled=true: the inventory is one file that only the leader writes and each replica loads once at start, so standbys would serve stale or empty inventories (with persistence, a ReadWriteOnce claim also cannot attach to pods on two nodes). Run one replica — the Deployment replaces a failed pod, and with persistence.enabled the file survives it — or set inventory.enabled=false to run standbys behind leader election (the new leader then re-sends every node config once)." (toString .Values.replicaCount)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A Prometheus duration of one unit (30s, 15m, 2h, 1d) in seconds, for
comparisons with timestamps in alert expressions.
*/}}
{{- define "multinic-operator.seconds" -}}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 }}
{{- mul (regexFind "^[0-9]+" . | atoi) (get $units (regexFind "[smhd]$" .)) }}
{{- end }}

{{/*
Claim holding the inventory file when persistence is enabled.
*/}}
{{- define "multinic-operator.inventoryClaimName" -}}
{{- default (printf "%s-inventory" (include "multinic-operator.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/*
The manager's metrics port: HTTPS on 8443 when metrics.secure, else HTTP on
8080 (kubebuilder's numbers).
*/}}
{{- define "multinic-operator.metricsPort" -}}
{{- if .Values.metrics.secure }}8443{{ else }}8080{{ end }}
{{- end }}

{{/*
The Secret holding the metrics server's certificate, when one is mounted;
empty otherwise.
*/}}
{{- define "multinic-operator.metricsCert" -}}
{{- if and .Values.metrics.enabled .Values.metrics.secure }}{{ .Values.metrics.certSecret }}{{ end }}
{{- end }}

{{/*
Refuses metrics settings that would be silently ignored.
*/}}
{{- define "multinic-operator.validateMetrics" -}}
{{- if and .Values.metrics.certSecret (not .Values.metrics.secure) }}
{{- fail "metrics.certSecret needs metrics.secure=true: plain HTTP metrics use no certificate" }}
{{- end }}
{{- end }}
