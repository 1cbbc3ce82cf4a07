# shellcheck shell=bash
# Everything a fresh machine lacks, installed by the project's own files, then cached:
# Node 24 (npm registry), Debian packages, npm dependencies, the Go-built control plane and Helm,
# and the compiled webhook. Sourced by scripts/test.sh and scripts/demo.sh.
_wa_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$_wa_root" || exit 1
. scripts/lib/node.sh
bash scripts/install-system-deps.sh
_wa_lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)-$(node --version)"
if [ ! -f node_modules/.wa-lock-hash ] || [ "$(cat node_modules/.wa-lock-hash)" != "$_wa_lock_hash" ]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$_wa_lock_hash" > node_modules/.wa-lock-hash
fi
bash scripts/build-tools.sh >/dev/null
# Build dist/ when it is missing or older than a source file.
if [ ! -f dist/src/cli.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package-lock.json -newer dist/src/cli.js -print -quit)" ]; then
  echo "[setup] npm run build (src, tsc strict)" >&2
  npm run --silent build >&2
fi
unset _wa_root _wa_lock_hash
