#!/usr/bin/env bash
# The README's main command: replays the seed tutorial on a real kube-apiserver with wasm-admission
# installed by Helm, and prints a short transcript (demo/seed-tutorial.ts).
#
#   scripts/demo.sh            # one command on a fresh clone: installs/builds what is missing, then runs
#   scripts/demo.sh --keep     # leave the cluster running (until Ctrl-C) and print how to use kubectl
#   scripts/demo.sh --verbose  # also show progress with timings
#
# Steps (each skipped when already done): system packages (docker-registry, openssl), Node 24,
# npm ci, the control-plane tools built from Go modules (cached in ~/.cache/wasm-admission/tools),
# npm run build. Ctrl-C at any point leaves no process behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[demo] %s\n' "$*" >&2; }


# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"

if [[ -x "$ROOT/scripts/install-system-deps.sh" ]]; then
  "$ROOT/scripts/install-system-deps.sh"
fi

# npm ci when node_modules is missing or older than the lockfile.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund >&2
fi

# Control-plane tools (kube-apiserver, kube-controller-manager, kubectl, etcd, helm): cached, a warm
# run does not touch the Go toolchain. Its stdout (tool paths) is not part of the transcript.
"$ROOT/scripts/build-tools.sh" >/dev/null

# Build dist/ when it is missing or older than a source file.
if [[ ! -f dist/src/cli.js ]] || [[ -n "$(find src tsconfig.json package-lock.json -newer dist/src/cli.js -print -quit)" ]]; then
  log "npm run build"
  npm run build --silent >&2
fi

# exec: the demo process gets Ctrl-C directly and cleans up its children itself.
exec node --import tsx demo/seed-tutorial.ts "$@"
