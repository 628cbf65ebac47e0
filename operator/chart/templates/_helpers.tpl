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
Labels on every object.
*/}}
{{- define "multinic-operator.labels" -}}
helm.sh/chart: {{ include "multinic-operator.chart" . }}
{{ include "multinic-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | toString | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: multinic-operator
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
The image reference; the tag defaults to the chart's appVersion. toString
keeps a numeric tag given with --set (image.tag=20250101) intact.
*/}}
{{- define "multinic-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
Claim holding the inventory file when persistence is enabled.
*/}}
{{- define "multinic-operator.inventoryClaimName" -}}
{{- default (printf "%s-inventory" (include "multinic-operator.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}
