{{/* The chart's name, truncated to 63 characters (a DNS label). */}}
{{- define "saturation-scaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: <release>-saturation-scaler unless the release already says it. */}}
{{- define "saturation-scaler.fullname" -}}
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

{{- define "saturation-scaler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "saturation-scaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "saturation-scaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "saturation-scaler.labels" -}}
helm.sh/chart: {{ include "saturation-scaler.chart" . }}
{{ include "saturation-scaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: keda-external-scaler
{{- end }}

{{- define "saturation-scaler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "saturation-scaler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "saturation-scaler.configMapName" -}}
{{- default (printf "%s-config" (include "saturation-scaler.fullname" .)) .Values.existingConfigMap }}
{{- end }}

{{- define "saturation-scaler.hasConfig" -}}
{{- if or .Values.existingConfigMap .Values.config }}true{{- end }}
{{- end }}

{{/*
The RBAC rules of --kube, exactly and nothing more: the ScaledObject and
the namespace's ScaledObjects (variants of a model), the scale target and
its /scale subresource (Deployment or LeaderWorkerSet: replicas, ready,
pending, the pod template's llm-d.ai/role), and a pod's owner chain (Pod ->
ReplicaSet -> Deployment) for pods without the llm_d_ai_variant label. All
read-only. test/integration/test_kube.py parses these lines (JSON lists)
and checks them against what the fake API server allows.
*/}}
{{- define "saturation-scaler.rbacRules" -}}
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments", "deployments/scale", "replicasets"]
  verbs: ["get"]
- apiGroups: ["leaderworkerset.x-k8s.io"]
  resources: ["leaderworkersets", "leaderworkersets/scale"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
{{- end }}
