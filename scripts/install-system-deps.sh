#!/usr/bin/env bash
# Installs the Debian packages the tests, the demo and the bench use (idempotent; needs root or sudo).
# Each line: a command (or file) that must exist, and the Debian package that provides it.
# Go (scripts/build-tools.sh), Rust (the shim, scripts/build-tools.sh) and Node (scripts/lib/node.sh)
# are handled elsewhere.
set -euo pipefail

log() { printf '[install-system-deps] %s\n' "$*" >&2; }

# command-or-absolute-path  package            what for
NEEDS=(
  "docker-registry          docker-registry     local OCI registry (distribution 2.8) for registry and e2e tests"
  "openssl                  openssl             certificates for the control plane, webhook, TLS tests"
  "htpasswd                 apache2-utils       htpasswd-protected registry in the security tests"
  "containerd               containerd          container runtime of the real worker nodes"
  "ctr                      containerd          listing a node's tasks (demo, e2e)"
  "runc                     runc                Linux containers on the real worker nodes"
  "/usr/lib/cni/bridge      containernetworking-plugins  pod networking on the real worker nodes"
  "ip                       iproute2            network namespace, bridge and addresses of the node harness"
  "iptables                 iptables            kubelet/kube-proxy/CNI rules inside the harness network namespace"
  "conntrack                conntrack           kube-proxy"
  "socat                    socat               kubelet port-forward support"
  "wat2wasm                 wabt                the sample Wasm modules, compiled from WAT sources in the repo"
  "busybox                  busybox-static      the runnable Linux sample image"
  "buildah                  buildah             building the project's Dockerfile in the tests"
  "mmdebstrap               mmdebstrap          stand-in base images for the Dockerfile build, the helm-test curl image"
  "dnsmasq                  dnsmasq-base        cluster DNS stand-in of the add-on test (helm test resolves the Service name)"
  "pkg-config               pkg-config          building the Wasm shim (libseccomp)"
  "/usr/include/seccomp.h   libseccomp-dev      building the Wasm shim"
  "protoc                   protobuf-compiler   building the Wasm shim (ttrpc/containerd protos)"
  "gcc                      gcc                 the pause image (a static C binary)"
  "/usr/lib/x86_64-linux-gnu/libc.a  libc6-dev  static linking of the pause binary"
  "pgrep                    procps              the bench's note of other processes (not Essential in Debian)"
  "ps                       procps              the demo's list of shim processes, one per replica"
  "wrk                      wrk                 HTTP/1.1 load generator of the bench"
  "h2load                   nghttp2-client      HTTP/2 load generator of the bench"
)

missing=()
for line in "${NEEDS[@]}"; do
  read -r what pkg _ <<<"$line"
  if [[ "$what" == /* ]]; then [[ -e "$what" ]] && continue; else command -v "$what" >/dev/null 2>&1 && continue; fi
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "already installed: every package listed in $0"
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

for line in "${NEEDS[@]}"; do
  read -r what pkg _ <<<"$line"
  if [[ "$what" == /* ]]; then [[ -e "$what" ]]; else command -v "$what" >/dev/null; fi || { log "still missing after install: $what ($pkg)"; exit 1; }
done
log "installed: ${missing[*]}"
