import type { FamilyPolicy, Policy } from '../domain/policy.js'
import type { RuntimeFamily } from '../domain/facts.js'

/**
 * Handler names (RuntimeClass.handler) in use per runtime family, from the installers surveyed in
 * docs/wasm-oci.md §6: runtime-class-manager (`spin-v2`, `wasmtime-v1`),
 * the spin node-installer, KWasm, k3s, Talos, AKS WASI pools (`spin-v0-15-1`, ...), runwasi docs (`wasm`).
 */
export const DEFAULT_HANDLERS: Record<RuntimeFamily, string[]> = {
  spin: ['spin', 'spin-v2', 'spin-v1', 'spin-v0-15-1', 'spin-v0-8-0', 'spin-v0-5-1', 'spin-v0-3-0'],
  slight: ['slight', 'slight-v1', 'slight-v0-8-0', 'slight-v0-5-1', 'slight-v0-3-0'],
  wasi: ['wasmtime', 'wasmtime-v1', 'wasmedge', 'wasmedge-v1', 'wasmer', 'wasmer-v1', 'wamr', 'wamr-v1', 'wasm'],
  crun: ['crun'],
}

function family(handlers: string[], annotations: Record<string, string> = {}): FamilyPolicy {
  return { runtimeClass: 'auto', handlers: [...handlers], tolerations: [], annotations }
}

/** The policy in force when no file is given: automatic for every family, enforce everywhere. */
export function defaultPolicy(): Policy {
  return {
    defaultMode: 'enforce',
    families: {
      spin: family(DEFAULT_HANDLERS.spin),
      slight: family(DEFAULT_HANDLERS.slight),
      wasi: family(DEFAULT_HANDLERS.wasi),
      // crun only runs Wasm when the *pod* carries the annotation; -smart keeps Linux sidecars working.
      crun: family(DEFAULT_HANDLERS.crun, { 'module.wasm.image/variant': 'compat-smart' }),
    },
    mixedPods: 'allow',
    onUnknownImage: 'allow',
    linuxUnderWasmRuntimeClass: 'deny',
    trustRuntimeClassNodeSelector: true,
    shimLabels: [],
    requireEligibleNode: true,
  }
}
