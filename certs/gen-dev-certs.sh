#!/usr/bin/env bash
# DEVELOPMENT ONLY: creates a throw-away CA and a serving certificate for the webhook with openssl.
#
#   certs/gen-dev-certs.sh [service] [namespace]
#   WASM_ADMISSION_SVC=wasm-admission WASM_ADMISSION_NS=wasm-admission certs/gen-dev-certs.sh
#
# Output (certs/out/ by default, gitignored; override with WASM_ADMISSION_CERTS_OUT):
#   ca.crt ca.key          development CA (valid DAYS, default 365)
#   tls.crt tls.key        serving certificate signed by the CA; SANs:
#                          <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local,
#                          localhost, 127.0.0.1, ::1
#   ca.b64                 base64 of ca.crt on one line (a webhook caBundle)
# The output directory doubles as --tls-dir for `wasm-admission serve`.
# Existing files are replaced. Nothing here is fit for production: use cert-manager or the chart's
# certificates.mode there (see certs/README.md).
set -euo pipefail

SVC="${1:-${WASM_ADMISSION_SVC:-wasm-admission}}"
NS="${2:-${WASM_ADMISSION_NS:-wasm-admission}}"
DAYS="${DAYS:-365}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${WASM_ADMISSION_CERTS_OUT:-$HERE/out}"

command -v openssl >/dev/null || { echo "gen-dev-certs: openssl not found" >&2; exit 1; }
valid_dns_label='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
[[ "$SVC" =~ $valid_dns_label ]] || { echo "gen-dev-certs: invalid service name: $SVC" >&2; exit 2; }
[[ "$NS" =~ $valid_dns_label ]] || { echo "gen-dev-certs: invalid namespace: $NS" >&2; exit 2; }

mkdir -p "$OUT"
umask 077
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# CA: EC P-256, basicConstraints CA:TRUE, may only sign certificates.
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key" 2>/dev/null
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$DAYS" \
  -subj "/CN=wasm-admission-dev-ca" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.crt"

cat > "$tmp/leaf.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:${SVC},DNS:${SVC}.${NS},DNS:${SVC}.${NS}.svc,DNS:${SVC}.${NS}.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:::1
EXT

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/tls.key" 2>/dev/null
openssl req -new -key "$tmp/tls.key" -subj "/CN=${SVC}.${NS}.svc" -out "$tmp/tls.csr"
openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days "$DAYS" -sha256 -extfile "$tmp/leaf.ext" -out "$tmp/tls.crt" 2>/dev/null
openssl verify -CAfile "$tmp/ca.crt" "$tmp/tls.crt" >/dev/null

base64 < "$tmp/ca.crt" | tr -d '\n' > "$tmp/ca.b64"
# Keys readable by the owner only; certificates world-readable.
chmod 600 "$tmp/ca.key" "$tmp/tls.key"
chmod 644 "$tmp/ca.crt" "$tmp/tls.crt" "$tmp/ca.b64"
for f in ca.crt ca.key tls.crt tls.key ca.b64; do mv -f "$tmp/$f" "$OUT/$f"; done

cat <<MSG
Development certificates for service ${SVC} in namespace ${NS} (valid ${DAYS} days):
  CA certificate:       $OUT/ca.crt
  CA key:               $OUT/ca.key
  serving certificate:  $OUT/tls.crt
  serving key:          $OUT/tls.key
  caBundle (base64):    $OUT/ca.b64
Run the webhook with:   wasm-admission serve --tls-dir $OUT
MSG
