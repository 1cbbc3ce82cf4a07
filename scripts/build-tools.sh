#!/usr/bin/env bash
# Builds the real-cluster test tools from Go modules (no release-binary downloads):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl
#                                                     <- k8s.io/kubernetes    (test/harness/go/k8s)
#   etcd                                              <- go.etcd.io/etcd/server/v3 (test/harness/go/etcd)
#   helm                                              <- helm.sh/helm/v3      (test/harness/go/helm)
#   containerd-shim-wasmtime-v1 (+ containerd-shim-spin-v2, a hard link to it)
#                                                     <- test/harness/shim (Rust; runwasi's containerd-shim-wasm
#                                                        crate + wasmtime; cargo build --release --locked)
#
# Versions live in test/harness/versions.env (also read by test/harness/tools.ts).
# Binaries are cached outside the repo, keyed by version:
#   ${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/tools/<name>-<version>/
# A directory counts as built only when its .stamp matches the wrapper go.mod/go.sum and ldflags,
# so a warm run does not invoke the Go toolchain at all and just prints the paths.
# The shim goes to tools/shim-<hash>/, the hash covering its Cargo.toml, Cargo.lock, sources and
# `rustc -vV`; a warm run does not invoke cargo. Cargo's target dir is ${cache}/shim-target (cold
# build 15-30 min on 2 cores; a source change rebuilds only the shim crate).
#
# Output: KEY=/abs/path lines on stdout (also written to ${cache}/tools/current.env).
# Usage:  scripts/build-tools.sh [--force] [--peers kyverno]     (log messages go to stderr)
#           --peers kyverno also builds Kyverno (cmd/kyverno, KYVERNO_VERSION, wrapper module
#           test/harness/go/kyverno) for `scripts/bench.sh --peers kyverno`; never needed by the tests.
#           Cold: >= 10 min of CPU on 2 cores, at nice 10; adds KYVERNO= and KYVERNO_MODULE= lines.
#         scripts/build-tools.sh --update-modules
#           regenerates the wrapper go.mod/go.sum files from versions.env (after a version bump; the
#           staging-module replace list and godebug line are taken from k8s.io/kubernetes's own go.mod),
#           then builds. Commit the changed test/harness/go/*/go.{mod,sum}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="$ROOT/test/harness"
VERSIONS="$HARNESS/versions.env"
CACHE="${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}"
TOOLS="$CACHE/tools"
FORCE=0
UPDATE_MODULES=0
PEERS=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1 ;;
    --update-modules) UPDATE_MODULES=1 ;;
    --peers) [[ "${2:-}" == kyverno ]] || { echo "usage: $0 --peers kyverno" >&2; exit 2; }; PEERS="$2"; shift ;;
    *) echo "usage: $0 [--force|--update-modules] [--peers kyverno]" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[build-tools] %s\n' "$*" >&2; }

# versions.env is plain KEY=VALUE; read it without executing anything.
while IFS='=' read -r key val; do
  [[ -z "$key" || "$key" == \#* ]] && continue
  printf -v "$key" '%s' "$val"
done < "$VERSIONS"
: "${K8S_VERSION:?missing in versions.env}" "${K8S_STAGING_VERSION:?}" "${ETCD_VERSION:?}" "${HELM_VERSION:?}"
: "${KYVERNO_VERSION:?missing in versions.env}"

K8S_DIR="$TOOLS/k8s-$K8S_VERSION"
ETCD_DIR="$TOOLS/etcd-$ETCD_VERSION"
HELM_DIR="$TOOLS/helm-$HELM_VERSION"
KYVERNO_DIR="$TOOLS/kyverno-$KYVERNO_VERSION"

# k8s ldflags: the same -X keys hack/lib/version.sh sets, for both version packages
# (component-base: servers; client-go: kubectl's client version).
k8s_rest="${K8S_VERSION#v}"; K8S_MAJOR="${k8s_rest%%.*}"; k8s_rest="${k8s_rest#*.}"; K8S_MINOR="${k8s_rest%%.*}"
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
  K8S_LDFLAGS+=" -X $pkg.gitTreeState=clean"
done
ETCD_LDFLAGS="-s -w"
# helm's chartutil/lint default "cluster" version comes from its client-go minor (see helm's Makefile);
# computed at build time (needs go), so it is not part of the stamp.
HELM_LDFLAGS_BASE="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
# Kyverno's Makefile: LD_FLAGS := "-s -w -X $(PACKAGE)/pkg/version.BuildVersion=$(VERSION)"
KYVERNO_LDFLAGS="-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION"

stamp_for() { # <wrapper dir> <ldflags>
  { cat "$1/go.mod" "$1/go.sum"; printf '%s\n' "$2" "CGO_ENABLED=0 -trimpath"; } | sha256sum | cut -d' ' -f1
}

is_built() { # <out dir> <stamp> <binaries...>
  local dir="$1" stamp="$2"; shift 2
  [[ $FORCE == 0 && -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]] || return 1
  local b; for b in "$@"; do [[ -x "$dir/$b" ]] || return 1; done
}

go_build() { # <wrapper dir> <out dir> <stamp> <ldflags> <rename "from:to" or ""> <packages...>
  local mod="$1" out="$2" stamp="$3" ldflags="$4" rename="$5"; shift 5
  command -v go >/dev/null || { log "go toolchain not found (need Go >= 1.26)"; exit 1; }
  local tmp; tmp="$(mktemp -d "$TOOLS/.build.XXXXXX")"
  log "building $* ($(go env GOVERSION)) -> $out"
  local start=$SECONDS
  ( cd "$mod" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly" \
      nice -n "${GO_NICE:-0}" go build -trimpath -ldflags "$ldflags" -o "$tmp/" "$@" ) || { rm -rf "$tmp"; log "build failed: $*"; exit 1; }
  [[ -n "$rename" ]] && mv "$tmp/${rename%%:*}" "$tmp/${rename#*:}"
  echo "$stamp" > "$tmp/.stamp"
  rm -rf "$out"; mv "$tmp" "$out"
  log "built in $((SECONDS - start))s: $(ls "$out" | tr '\n' ' ')"
}

check_module_version() { # <wrapper dir> <module> <expected version>
  local got; got="$(cd "$1" && go list -m -f '{{.Version}}' "$2")"
  [[ "$got" == "$3" ]] || { log "$1/go.mod has $2 $got but versions.env says $3; update the wrapper module"; exit 1; }
}

# Recreates one wrapper module: go.mod with `tool` directives (kept by `go mod tidy`) + go.sum.
new_wrapper() { # <dir> <module name> <go line> <godebug default or ""> <replace args...> -- <tool@version...>
  local dir="$1" name="$2" goline="$3" godebug="$4"; shift 4
  rm -f "$dir/go.mod" "$dir/go.sum"; mkdir -p "$dir"
  ( cd "$dir"
    go mod init "$name" 2>/dev/null
    go mod edit -go="$goline"
    [[ -n "$godebug" ]] && go mod edit -godebug="default=$godebug"
    while [[ $# -gt 0 && "$1" != "--" ]]; do go mod edit -replace="$1"; shift; done
    shift
    GOFLAGS=-mod=mod go get -tool "$@" )
}

update_modules() {
  command -v go >/dev/null || { log "go toolchain not found"; exit 1; }
  local tmp gomod goline godebug staging replaces=() m
  tmp="$(mktemp -d)"
  gomod="$(cd "$tmp" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  rm -rf "$tmp"
  [[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  goline="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
  godebug="$(sed -n 's/^godebug default=\(.*\)$/\1/p' "$gomod")"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging/src/...;
  # a dependent module must replace each one with the published version itself.
  staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/.*#\1#p' "$gomod")"
  for m in $staging; do replaces+=("$m=$m@$K8S_STAGING_VERSION"); done
  log "k8s.io/kubernetes $K8S_VERSION: go $goline, godebug default=${godebug:-none}, ${#replaces[@]} staging modules at $K8S_STAGING_VERSION"
  new_wrapper "$HARNESS/go/k8s" wasm-admission.invalid/harness/k8s "$goline" "$godebug" "${replaces[@]}" -- \
    "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubelet@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-proxy@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
  # etcd in its own module: `go install go.etcd.io/etcd/server/v3@...` fails on its replace directives,
  # which are ignored for a dependency; separate so it does not move kube-apiserver's etcd client.
  new_wrapper "$HARNESS/go/etcd" wasm-admission.invalid/harness/etcd "$goline" "" -- "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  new_wrapper "$HARNESS/go/helm" wasm-admission.invalid/harness/helm "$goline" "" -- "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  log "wrapper modules regenerated under test/harness/go/"
}

mkdir -p "$TOOLS"
# One build at a time per cache: a second caller (a parallel test run, the demo) waits for the first
# and then finds the tools built.
exec 9>"$TOOLS/.lock"
flock 9
[[ $UPDATE_MODULES == 1 ]] && update_modules

s="$(stamp_for "$HARNESS/go/k8s" "$K8S_LDFLAGS")"
if ! is_built "$K8S_DIR" "$s" kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; then
  check_module_version "$HARNESS/go/k8s" k8s.io/kubernetes "$K8S_VERSION"
  check_module_version "$HARNESS/go/k8s" k8s.io/apiserver "$K8S_STAGING_VERSION"
  go_build "$HARNESS/go/k8s" "$K8S_DIR" "$s" "$K8S_LDFLAGS" "" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
fi

s="$(stamp_for "$HARNESS/go/etcd" "$ETCD_LDFLAGS")"
if ! is_built "$ETCD_DIR" "$s" etcd; then
  check_module_version "$HARNESS/go/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  # go build names the binary "server" (module path minus the /v3 suffix)
  go_build "$HARNESS/go/etcd" "$ETCD_DIR" "$s" "$ETCD_LDFLAGS" server:etcd go.etcd.io/etcd/server/v3
fi

s="$(stamp_for "$HARNESS/go/helm" "$HELM_LDFLAGS_BASE")"
if ! is_built "$HELM_DIR" "$s" helm; then
  check_module_version "$HARNESS/go/helm" helm.sh/helm/v3 "$HELM_VERSION"
  cg="$(cd "$HARNESS/go/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)"   # e.g. v0.37.0 -> k8s 1.37
  cg="${cg#v0.}"; cg_minor="${cg%%.*}"
  helm_ldflags="$HELM_LDFLAGS_BASE"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$cg_minor"
  done
  go_build "$HARNESS/go/helm" "$HELM_DIR" "$s" "$helm_ldflags" "" helm.sh/helm/v3/cmd/helm
fi

# ---- the Wasm shim (Rust). containerd resolves runtime_type io.containerd.<name>.<vN> to the binary
# containerd-shim-<name>-<vN> on its PATH: io.containerd.wasmtime.v1 -> containerd-shim-wasmtime-v1,
# io.containerd.spin.v2 -> containerd-shim-spin-v2. The "spin" name is the same wasmtime shim (a hard
# link, so `ps` shows which name a pod's shim was started under): it runs WASI modules, not Spin apps
# (the Spin runtime is not on crates.io); the seed's Spin handler is routed to it for placement only.
SHIM_SRC="$HARNESS/shim"
shim_stamp() {
  command -v rustc >/dev/null || { log "rustc not found (need a Rust toolchain >= 1.85, e.g. from rustup)"; exit 1; }
  { cat "$SHIM_SRC/Cargo.toml" "$SHIM_SRC/Cargo.lock"
    (cd "$SHIM_SRC" && find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    rustc -vV; printf '%s\n' "cargo build --release --locked"; } | sha256sum | cut -d' ' -f1
}
s="$(shim_stamp)"
SHIM_DIR="$TOOLS/shim-${s:0:16}"
shim_ok=1
if ! is_built "$SHIM_DIR" "$s" containerd-shim-wasmtime-v1 containerd-shim-spin-v2; then
  command -v cargo >/dev/null || { log "cargo not found (need a Rust toolchain >= 1.85, e.g. from rustup)"; exit 1; }
  target="$CACHE/shim-target"
  log "building the Wasm shim ($(rustc --version)) in $target -> $SHIM_DIR (cold: 15-30 min on 2 cores)"
  start=$SECONDS
  if ( cd "$SHIM_SRC" && CARGO_TARGET_DIR="$target" cargo build --release --locked >&2 ); then
    tmp="$(mktemp -d "$TOOLS/.build.XXXXXX")"
    cp "$target/release/containerd-shim-wasmtime-v1" "$tmp/"
    ln "$tmp/containerd-shim-wasmtime-v1" "$tmp/containerd-shim-spin-v2"
    echo "$s" > "$tmp/.stamp"
    rm -rf "$SHIM_DIR"; mv "$tmp" "$SHIM_DIR"
    log "shim built in $((SECONDS - start))s: $(du -h "$SHIM_DIR/containerd-shim-wasmtime-v1" | cut -f1)"
  else
    # The other tools stay usable; only the real-node Wasm tests need the shim (they fail without it).
    log "SHIM BUILD FAILED (cargo output above): SHIM_WASMTIME and SHIM_SPIN are not set"
    shim_ok=0
  fi
fi

env_out="KUBE_APISERVER=$K8S_DIR/kube-apiserver
KUBE_CONTROLLER_MANAGER=$K8S_DIR/kube-controller-manager
KUBE_SCHEDULER=$K8S_DIR/kube-scheduler
KUBELET=$K8S_DIR/kubelet
KUBE_PROXY=$K8S_DIR/kube-proxy
KUBECTL=$K8S_DIR/kubectl
ETCD=$ETCD_DIR/etcd
HELM=$HELM_DIR/helm
SHIM_WASMTIME=$SHIM_DIR/containerd-shim-wasmtime-v1
SHIM_SPIN=$SHIM_DIR/containerd-shim-spin-v2"
[[ $shim_ok == 1 ]] || env_out="$(grep -v '^SHIM_' <<<"$env_out")"
if [[ ! -f "$TOOLS/current.env" || "$(cat "$TOOLS/current.env")" != "$env_out" ]]; then
  printf '%s\n' "$env_out" > "$TOOLS/current.env.tmp.$$" && mv "$TOOLS/current.env.tmp.$$" "$TOOLS/current.env"
fi
printf '%s\n' "$env_out"

# ---- peers for the comparison bench (opt-in). Own lock, taken after the shared one is released, so a
# test run's build-tools call never waits for this long build.
if [[ "$PEERS" == kyverno ]]; then
  exec 9>&-
  exec 8>"$TOOLS/.lock-kyverno"
  flock 8
  s="$(stamp_for "$HARNESS/go/kyverno" "$KYVERNO_LDFLAGS")"
  if ! is_built "$KYVERNO_DIR" "$s" kyverno crds; then
    check_module_version "$HARNESS/go/kyverno" github.com/kyverno/kyverno "$KYVERNO_VERSION"
    # Its go.mod replaces k8s.io/pod-security-admission with Kyverno's fork, which `go install pkg@version`
    # refuses; the wrapper module repeats that replace directive.
    GO_NICE=10 go_build "$HARNESS/go/kyverno" "$KYVERNO_DIR" "$s" "$KYVERNO_LDFLAGS" "" github.com/kyverno/kyverno/cmd/kyverno
    # The CRDs ship inside the module (config/crds); keep a copy beside the binary they belong to.
    moddir="$(cd "$HARNESS/go/kyverno" && go list -m -f '{{.Dir}}' github.com/kyverno/kyverno)"
    rm -rf "$KYVERNO_DIR/crds.tmp" && cp -r "$moddir/config/crds" "$KYVERNO_DIR/crds.tmp" && chmod -R u+w "$KYVERNO_DIR/crds.tmp"
    mv "$KYVERNO_DIR/crds.tmp" "$KYVERNO_DIR/crds"
  fi
  printf 'KYVERNO=%s\nKYVERNO_CRDS=%s\n' "$KYVERNO_DIR/kyverno" "$KYVERNO_DIR/crds"
fi
