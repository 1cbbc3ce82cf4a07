#!/usr/bin/env bash
# The README's main command: replays the seed tutorial on a real kube-apiserver with wasm-admission
# installed by Helm, and prints a short transcript (demo/seed-tutorial.ts).
#
#   scripts/demo.sh            # one command on a fresh clone: installs/builds what is missing, then runs
#   scripts/demo.sh --keep     # leave the cluster running (until Ctrl-C) and print how to use kubectl
#   scripts/demo.sh --verbose  # also show progress with timings
#
# Set-up (scripts/lib/setup.sh, each step skipped when already done): Node 24, system packages
# (docker-registry, openssl), npm ci, the control-plane tools built from Go modules (cached in
# ~/.cache/wasm-admission/tools), npm run build. Ctrl-C at any point leaves no process behind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/setup.sh
# exec: the demo process gets Ctrl-C directly and cleans up its children itself.
exec node --import tsx demo/seed-tutorial.ts "$@"
