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

{{/* The HTTP Service's name (/metrics for Prometheus; the gRPC Service is the headless one). */}}
{{- define "saturation-scaler.httpServiceName" -}}
{{- printf "%s-http" (include "saturation-scaler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The host:port KEDA's scalerAddress names: the headless gRPC Service's DNS name. */}}
{{- define "saturation-scaler.scalerAddress" -}}
{{- printf "%s.%s.svc.%s:%v" (include "saturation-scaler.fullname" .) .Release.Namespace .Values.clusterDomain .Values.grpc.port }}
{{- end }}

{{/* "true" when a value is given: neither null nor "" (0 is a value). */}}
{{- define "saturation-scaler.isSet" -}}
{{- if and (not (kindIs "invalid" .)) (ne (toString .) "") }}true{{ end }}
{{- end }}

{{/*
Combinations the chart refuses, with the reason. Included by the Deployment
(rendered on every install), so `helm install` fails before anything is
created.
*/}}
{{- define "saturation-scaler.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName: a kubernetes.io/tls Secret (tls.crt, tls.key; ca.crt for tls.mutual)" }}
{{- end }}
{{- if and .Values.tls.mutual (not .Values.tls.enabled) }}
{{- fail "tls.mutual needs tls.enabled" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.http.enabled) }}
{{- fail "http.enabled=false with tls.enabled: the probes would have to use the kubelet's gRPC probe, which cannot speak TLS; keep http.enabled (plaintext /healthz and /readyz)" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.http.enabled) }}
{{- fail "serviceMonitor.enabled needs http.enabled: /metrics is served on the HTTP port" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (include "saturation-scaler.isSet" $pdb.minAvailable) (include "saturation-scaler.isSet" $pdb.maxUnavailable) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (minAvailable: null to use maxUnavailable)" }}
{{- end }}
{{- if not (has (toString .Values.antiAffinity) (list "soft" "hard" "")) }}
{{- fail (printf "antiAffinity: %q must be soft, hard or \"\"" (toString .Values.antiAffinity)) }}
{{- end }}
{{- end }}

{{/*
One probe: the handler (HTTP GET on the http port when HTTP is on, else the
kubelet's gRPC probe on the plaintext gRPC port) plus the timings of
.Values.probes.<kind>. Called with (dict "root" $ "path" "/healthz" "timing" ...).
*/}}
{{- define "saturation-scaler.probe" -}}
{{- if .root.Values.http.enabled -}}
httpGet:
  path: {{ .path }}
  port: http
  scheme: HTTP
{{- else -}}
grpc:
  port: {{ .root.Values.grpc.port }}
{{- end }}
{{ toYaml .timing }}
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
