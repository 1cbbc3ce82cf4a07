#!/usr/bin/env bash
# Installs the Debian packages the integration tests use (idempotent; needs root or sudo):
#   docker-registry  local OCI registry (Debian's distribution 2.8.x) for registry tests
#   openssl          certificates for the test control plane (test/harness/control-plane.ts)
# Go (for scripts/build-tools.sh) and Node (scripts/lib/node.sh) are handled elsewhere.
set -euo pipefail

log() { printf '[install-system-deps] %s\n' "$*" >&2; }

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [[ ${#missing[@]} -eq 0 ]]; then
  log "already installed: docker-registry, openssl"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
  SUDO=(sudo)
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

command -v docker-registry >/dev/null && command -v openssl >/dev/null
log "installed: $(command -v docker-registry), $(openssl version)"
