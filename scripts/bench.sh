#!/usr/bin/env bash
# The performance bench, from a fresh machine: sets everything up like scripts/test.sh
# (scripts/lib/setup.sh: Node 24, Debian packages including the load generators wrk and h2load,
# npm ci, the Go-built control plane, npm run build), then runs bench/run.ts. Prints a table; JSON
# results go to bench/results/. Arguments go to bench/run.ts, e.g.
#   scripts/bench.sh --only throughput,e2e --seconds 3 --sizes 50,500
# See docs/benchmarks.md. Not part of scripts/test.sh: machines are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
echo "[bench] load average: $(cut -d' ' -f1-3 /proc/loadavg); other control planes / test runs: $(pgrep -fc 'kube-apiserver|tap' || true)" >&2
exec node --import tsx bench/run.ts "$@"
