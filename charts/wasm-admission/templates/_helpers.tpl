{{/*
Names are computed here and nowhere else.
Kubernetes name fields are limited to 63 characters (DNS label), hence trunc 63 | trimSuffix "-".
*/}}

{{- define "wasm-admission.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wasm-admission.fullname" -}}
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

{{- define "wasm-admission.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of the webhook pods (the helm test pod carries component=test, so it never matches). */}}
{{- define "wasm-admission.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wasm-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* Labels without the component label (callers add their own). */}}
{{- define "wasm-admission.baseLabels" -}}
helm.sh/chart: {{ include "wasm-admission.chart" . }}
app.kubernetes.io/name: {{ include "wasm-admission.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wasm-admission
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "wasm-admission.labels" -}}
{{ include "wasm-admission.baseLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "wasm-admission.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wasm-admission.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "wasm-admission.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "wasm-admission.testImage" -}}
{{- if .Values.tests.image.digest }}
{{- printf "%s@%s" .Values.tests.image.repository .Values.tests.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.tests.image.repository .Values.tests.image.tag }}
{{- end }}
{{- end }}

{{/* Service that fronts the webhook (also the certificate's DNS names). */}}
{{- define "wasm-admission.serviceName" -}}
{{- include "wasm-admission.fullname" . }}
{{- end }}

{{/* DNS names the serving certificate must cover. */}}
{{- define "wasm-admission.dnsNames" -}}
{{- $svc := include "wasm-admission.serviceName" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* Name of the Secret holding tls.crt/tls.key for the pods. */}}
{{- define "wasm-admission.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" }}
{{- .Values.certificates.provided.secretName }}
{{- else }}
{{- printf "%s-tls" (include "wasm-admission.fullname" .) }}
{{- end }}
{{- end }}

{{- define "wasm-admission.policyConfigMapName" -}}
{{- printf "%s-policy" (include "wasm-admission.fullname" .) }}
{{- end }}

{{- define "wasm-admission.registryConfigMapName" -}}
{{- printf "%s-registry" (include "wasm-admission.fullname" .) }}
{{- end }}

{{/* Name of the serving cert-manager Certificate (target of the cainjector annotation). */}}
{{- define "wasm-admission.servingCertificateName" -}}
{{- printf "%s-serving" (include "wasm-admission.fullname" .) }}
{{- end }}

{{/*
Namespaces always excluded from both webhooks: the control-plane namespaces and the release
namespace, so the webhook can never block its own restart (no bootstrap deadlock).
*/}}
{{- define "wasm-admission.excludedNamespaces" -}}
{{- $ns := list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace }}
{{- range .Values.webhook.excludeNamespaces }}
{{- $ns = append $ns . }}
{{- end }}
{{- $ns | uniq | toJson }}
{{- end }}

{{- define "wasm-admission.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range (include "wasm-admission.excludedNamespaces" . | fromJsonArray) }}
      - {{ . | quote }}
      {{- end }}
  - key: {{ .Values.webhook.ignoreLabel | quote }}
    operator: NotIn
    values: ["true"]
  {{- with .Values.webhook.namespaceSelectorExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
caBundle for the webhook configurations (base64 of PEM), or empty when cert-manager injects it.
certificates.caBundle may be PEM or already base64-encoded PEM.
*/}}
{{- define "wasm-admission.caBundle" -}}
{{- if eq .Values.certificates.mode "helm" }}
{{- (include "wasm-admission.helmCerts" . | fromJson).ca | b64enc }}
{{- else if eq .Values.certificates.mode "provided" }}
{{- $b := .Values.certificates.caBundle | trim }}
{{- if contains "-----BEGIN" $b }}
{{- printf "%s\n" $b | b64enc }}
{{- else }}
{{- $b | nospace }}
{{- end }}
{{- end }}
{{- end }}

{{/*
clientConfig of one webhook. Call with (dict "ctx" $ "path" "/mutate").
*/}}
{{- define "wasm-admission.clientConfig" -}}
{{- $ := .ctx }}
{{- if $.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $.Values.webhook.url) .path | quote }}
{{- else }}
service:
  name: {{ include "wasm-admission.serviceName" $ }}
  namespace: {{ $.Release.Namespace }}
  path: {{ .path | quote }}
  port: {{ $.Values.service.port }}
{{- end }}
{{- $ca := include "wasm-admission.caBundle" $ }}
{{- if $ca }}
caBundle: {{ $ca }}
{{- end }}
{{- end }}

{{/* metadata shared by both webhook configurations (cluster-scoped). */}}
{{- define "wasm-admission.webhookConfigurationMetadata" -}}
name: {{ include "wasm-admission.fullname" . }}
labels:
  {{- include "wasm-admission.labels" . | nindent 2 }}
{{- if eq .Values.certificates.mode "certManager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "wasm-admission.servingCertificateName" .) }}
{{- end }}
{{- if .Values.webhook.ownedByNamespace }}
{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace }}
{{- if and $ns $ns.metadata }}
ownerReferences:
  - apiVersion: v1
    kind: Namespace
    name: {{ $ns.metadata.name }}
    uid: {{ $ns.metadata.uid }}
{{- end }}
{{- end }}
{{- end }}
