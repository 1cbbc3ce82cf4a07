/**
 * Which image kinds each runtime family's handlers can run: the one table that decide() (which
 * handler may run a pod), the denial messages (which handlers would) and docs/inspect.md (rendered by
 * handlerTableMarkdown(), checked by test/policy/handler-table.test.ts) share.
 *
 * Sources (../shared/reference/wasm-oci.md §1.6, §7, and the projects named):
 * - runwasi shims (wasmtime, wasmedge, wasmer, wamr): containerd/runwasi crates/containerd-shim-wasm
 *   loads the layers of `supported_layers_types()` (the component layer and `application/wasm`) when
 *   the config architecture is `wasm`, else runs the entrypoint file of the rootfs; its executor runs
 *   an ELF or `#!` entrypoint as a native Linux container (`is_linux_container`), so Linux sidecars work.
 * - containerd-shim-spin (spinframework/containerd-shim-spin, containerd-shim-spin/src/engine.rs and
 *   source.rs at 5611018): `supported_layers_types()` = Spin's content, data, archive and locked-app
 *   layers plus `application/wasm`; a single `application/wasm` layer (a `wkg oci push`) becomes
 *   `Source::OciWkg`, loaded by `spin_loader::from_wasm_file` as a one-component HTTP app (more than
 *   one layer: "expected single layer in OCI package"); no OCI layers: `/spin.toml` of the rootfs.
 *   It is built on containerd-shim-wasm 1.0 (containerd-shim-spin/Cargo.toml), whose executor runs
 *   Linux entrypoints natively.
 * - crun (k3s's `crun` RuntimeClass, KWasm): an ordinary OCI runtime; it switches to its Wasm handler
 *   only for the pod annotations `module.wasm.image/variant` / `run.oci.handler`
 *   (containers/crun src/libcrun/handlers/handler-utils.c), so Linux containers run as usual.
 * - slight (deislabs/containerd-wasm-shims, archived): the app needs /slightfile.toml; whether its
 *   containerd-shim-wasm version runs Linux entrypoints is UNCONFIRMED, kept as for the other shims.
 */
import type { RuntimeFamily, WasmPackaging } from './facts.js'

/** What a pod container image is, as far as a handler is concerned. */
export type ImageKind = WasmPackaging | 'linux'

export const IMAGE_KINDS: Record<ImageKind, string> = {
  'spin-app': 'Spin app (spin registry push, or a filesystem image with /spin.toml)',
  'wasm-component': 'Wasm component in a single application/wasm layer (wkg oci push; wasi:http)',
  'wasm-artifact': 'other CNCF Wasm artifact (module, or several layers)',
  'runwasi-layers': 'runwasi layers (oci-tar-builder component layer)',
  'wasm-file': 'filesystem image whose entrypoint is a .wasm file',
  'slight-app': 'slight app (/slightfile.toml)',
  'crun-annotated': 'image annotated for crun (module.wasm.image/variant)',
  linux: 'ordinary Linux image',
}

export interface HandlerRow {
  /** What the family's handlers are. */
  shim: string
  /** Image kinds a pod under this family's handlers can run. */
  runs: readonly ImageKind[]
  /**
   * How Linux images run: `native` (an ordinary OCI runtime), `fallback` (a Wasm shim that runs a
   * Linux entrypoint as a plain container: fine for sidecars; a pod of only Linux images is then the
   * policy's linuxUnderWasmRuntimeClass choice).
   */
  linux: 'native' | 'fallback'
}

export const HANDLER_TABLE: Record<RuntimeFamily, HandlerRow> = {
  spin: { shim: 'containerd-shim-spin', runs: ['spin-app', 'wasm-component', 'linux'], linux: 'fallback' },
  wasi: { shim: 'runwasi shims (wasmtime, wasmedge, wasmer, wamr)', runs: ['runwasi-layers', 'wasm-component', 'wasm-artifact', 'wasm-file', 'linux'], linux: 'fallback' },
  slight: { shim: 'containerd-shim-slight', runs: ['slight-app', 'linux'], linux: 'fallback' },
  crun: { shim: 'crun (OCI runtime with a Wasm handler)', runs: ['crun-annotated', 'linux'], linux: 'native' },
}

export function canRun(family: RuntimeFamily, kind: ImageKind): boolean {
  return HANDLER_TABLE[family].runs.includes(kind)
}

/** Families whose handlers can run every one of these image kinds. */
export function familiesRunning(kinds: readonly ImageKind[], families: readonly RuntimeFamily[]): RuntimeFamily[] {
  return families.filter((f) => kinds.every((k) => canRun(f, k)))
}

/** The table as Markdown, with the handler names of a policy (docs/inspect.md shows the defaults). */
export function handlerTableMarkdown(handlers: Record<RuntimeFamily, readonly string[]>): string {
  const families = Object.keys(HANDLER_TABLE) as RuntimeFamily[]
  const head = `| Image kind | ${families.map((f) => `\`${f}\`: ${HANDLER_TABLE[f].shim}`).join(' | ')} |`
  const rule = `|---|${families.map(() => '---').join('|')}|`
  const rows = (Object.keys(IMAGE_KINDS) as ImageKind[]).map((k) => {
    const cells = families.map((f) => (!canRun(f, k) ? 'no' : k === 'linux' ? (HANDLER_TABLE[f].linux === 'native' ? 'yes' : 'yes (as a sidecar)') : 'yes'))
    return `| \`${k}\`: ${IMAGE_KINDS[k]} | ${cells.join(' | ')} |`
  })
  const names = `| handler names (defaults) | ${families.map((f) => handlers[f].map((h) => `\`${h}\``).join(', ')).join(' | ')} |`
  return [head, rule, ...rows, names].join('\n')
}
