#!/usr/bin/env bash
# The performance bench, from a fresh machine: sets everything up like scripts/test.sh
# (scripts/lib/setup.sh: Node 24, Debian packages, npm ci, the Go-built control plane, npm run build),
# installs the load generators (Debian's wrk and nghttp2-client for h2load) when missing, then runs
# bench/run.ts. Prints a table; JSON results go to bench/results/. Arguments go to bench/run.ts, e.g.
#   scripts/bench.sh --only throughput,e2e --seconds 3 --sizes 50,500
# See docs/benchmarks.md. Not part of scripts/test.sh: machines are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
if [[ ${#missing[@]} -gt 0 ]]; then
  SUDO=()
  [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  echo "[bench] installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
echo "[bench] load average: $(cut -d' ' -f1-3 /proc/loadavg); other control planes / test runs: $(pgrep -fc 'kube-apiserver|tap' || true)" >&2
exec node --import tsx bench/run.ts "$@"
