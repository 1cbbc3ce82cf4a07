{{/*
Helm-generated certificates (certificates.mode=helm).

Returns JSON {ca, caKey, cert, key, notAfter}. Computed once per render and memoised in
.Values.__wasmAdmissionHelmCerts, so the CA Secret, the serving Secret and both webhook
configurations agree within one render.

Kept across upgrades: the existing Secrets are read back with `lookup`.
  - CA (<fullname>-ca): reused whenever it exists (10-year default lifetime).
  - Serving certificate (<fullname>-tls): reused unless it is missing, was signed by another CA, or is
    within certificates.helm.renewBeforeDays of the expiry recorded in the annotation
    wasm-admission.io/not-after; then it is re-issued from the same CA. The caBundle does not change
    and the webhook hot-reloads the new key pair from the mounted Secret.
Keys: ECDSA P-256 (`genPrivateKey "ecdsa"`), not the RSA-2048 of genCA/genSignedCert: each new TLS
connection costs the webhook about 0.9 ms of CPU instead of 1.5 (docs/benchmarks.md); a CA kept from
an earlier release may be RSA and signs the new ECDSA serving certificate alike.
`lookup` returns nothing under `helm template`, `--dry-run=client` and ArgoCD, which therefore
generate new certificates on every render: use certManager or provided there.
*/}}
{{- define "wasm-admission.helmCerts" -}}
{{- if not (hasKey .Values "__wasmAdmissionHelmCerts") }}
{{- $fullname := include "wasm-admission.fullname" . }}
{{- $dns := include "wasm-admission.dnsNames" . | fromJsonArray }}
{{- $cfg := .Values.certificates.helm }}
{{- $caSecret := lookup "v1" "Secret" .Release.Namespace (printf "%s-ca" $fullname) }}
{{- $tlsSecret := lookup "v1" "Secret" .Release.Namespace (printf "%s-tls" $fullname) }}
{{- $caData := dict }}
{{- if and $caSecret $caSecret.data }}{{- $caData = $caSecret.data }}{{- end }}
{{- $tlsData := dict }}
{{- $tlsAnnotations := dict }}
{{- if and $tlsSecret $tlsSecret.data }}
{{- $tlsData = $tlsSecret.data }}
{{- $tlsAnnotations = default (dict) $tlsSecret.metadata.annotations }}
{{- end }}
{{- $ca := dict }}
{{- if and (index $caData "tls.crt") (index $caData "tls.key") }}
{{- $ca = buildCustomCert (index $caData "tls.crt") (index $caData "tls.key") }}
{{- else }}
{{- $ca = genCAWithKey (printf "%s-ca" $fullname) (int $cfg.caDays) (genPrivateKey "ecdsa") }}
{{- end }}
{{- $reuse := false }}
{{- $notAfter := index $tlsAnnotations "wasm-admission.io/not-after" | default "" }}
{{- if and (index $tlsData "tls.crt") (index $tlsData "tls.key") (index $tlsData "ca.crt") $notAfter }}
{{- $sameCA := eq (index $tlsData "ca.crt" | b64dec) $ca.Cert }}
{{- $deadline := add (now | unixEpoch | atoi) (mul (int $cfg.renewBeforeDays) 86400) }}
{{- $expires := toDate "2006-01-02T15:04:05Z07:00" $notAfter | unixEpoch | atoi }}
{{- if and $sameCA (gt $expires $deadline) }}
{{- $reuse = true }}
{{- end }}
{{- end }}
{{- $out := dict "ca" $ca.Cert "caKey" $ca.Key }}
{{- if $reuse }}
{{- $_ := set $out "cert" (index $tlsData "tls.crt" | b64dec) }}
{{- $_ := set $out "key" (index $tlsData "tls.key" | b64dec) }}
{{- $_ := set $out "notAfter" $notAfter }}
{{- else }}
{{- $leaf := genSignedCertWithKey (index $dns 2) nil $dns (int $cfg.leafDays) $ca (genPrivateKey "ecdsa") }}
{{- $_ := set $out "cert" $leaf.Cert }}
{{- $_ := set $out "key" $leaf.Key }}
{{- $_ := set $out "notAfter" (now | dateModify (printf "+%dh" (mul (int $cfg.leafDays) 24)) | date "2006-01-02T15:04:05Z07:00") }}
{{- end }}
{{- $_ := set .Values "__wasmAdmissionHelmCerts" $out }}
{{- end }}
{{- index .Values "__wasmAdmissionHelmCerts" | toJson }}
{{- end }}
