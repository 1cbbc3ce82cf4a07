#!/usr/bin/env bash
# The performance bench, from a fresh machine: sets everything up like scripts/test.sh
# (scripts/lib/setup.sh: Node 24, Debian packages including the load generators wrk and h2load,
# npm ci, the Go-built control plane, npm run build), then runs bench/run.ts. Prints a table; JSON
# results go to bench/results/. Arguments go to bench/run.ts, e.g.
#   scripts/bench.sh --only throughput,e2e --seconds 3 --sizes 50,500
#   scripts/bench.sh --only e2e --peers kyverno     # + Kyverno beside wasm-admission (docs/comparison.md)
# --peers kyverno first builds Kyverno (scripts/build-tools.sh --peers kyverno; cold: >= 10 min of CPU
# on 2 cores, cached afterwards), timed apart as set-up. See docs/benchmarks.md. Not part of scripts/test.sh: machines are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
case " $* " in
  *" --peers kyverno "*)
    start=$SECONDS
    bash scripts/build-tools.sh --peers kyverno >/dev/null
    echo "[bench] set-up: Kyverno built or found cached in $((SECONDS - start)) s" >&2 ;;
esac
echo "[bench] load average: $(cut -d' ' -f1-3 /proc/loadavg); other control planes / test runs: $(pgrep -fc 'kube-apiserver|tap' || true)" >&2
exec node --import tsx bench/run.ts "$@"
