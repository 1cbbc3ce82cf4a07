#!/usr/bin/env bash
# Builds the stand-in for the chart's `helm test` image (tests.image, by default
# docker.io/curlimages/curl, which is not reachable here): Debian's curl and the libraries it needs
# (mmdebstrap --variant=extract --include=curl, no shell needed, no package manager), curl as the
# entrypoint, user 65532. Same buildah storage and lock as scripts/build-image.sh; cached by name.
#
# Usage: scripts/build-test-image.sh
# Prints KEY=VALUE lines on stdout: IMAGE, IMAGE_ID, CACHED, BUILDAH. Progress goes to stderr. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
# Bump when the recipe changes (the name is the cache key).
RECIPE=1
CACHE="${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/images"
IMAGE="localhost/wasm-admission-standin/curl:${SUITE}-r${RECIPE}"

log() { printf '[build-test-image] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (buildah with vfs storage)"; exit 1; }

mkdir -p "$CACHE"
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)
bah() { buildah "${STORAGE[@]}" "$@"; }
exec 9>"$CACHE/lock"
flock 9

cached=1
if ! bah inspect --type image "$IMAGE" >/dev/null 2>&1; then
  cached=0
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  log "making $IMAGE (mmdebstrap extract of curl from $SUITE)"
  mmdebstrap --quiet --variant=extract --include=curl "$SUITE" "$tmp/root.tar" >&2
  mkdir -p "$tmp/tree/etc" "$tmp/tree/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$tmp/tree/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' > "$tmp/tree/etc/group"
  chmod 1777 "$tmp/tree/tmp"
  c="$(bah from scratch)"
  bah add "$c" "$tmp/root.tar" / >/dev/null
  tar --numeric-owner -C "$tmp/tree" -cf "$tmp/tree.tar" . && bah add "$c" "$tmp/tree.tar" / >/dev/null
  bah config --env PATH=/usr/bin:/bin --entrypoint '["/usr/bin/curl"]' --cmd '' --user 65532 \
    --label org.opencontainers.image.description="stand-in for docker.io/curlimages/curl (wasm-admission helm test)" "$c"
  bah commit --quiet --rm "$c" "$IMAGE" >/dev/null
fi
echo "IMAGE=$IMAGE"
echo "IMAGE_ID=$(bah inspect --type image --format '{{.FromImageID}}' "$IMAGE")"
echo "CACHED=$cached"
echo "BUILDAH=buildah ${STORAGE[*]}"
