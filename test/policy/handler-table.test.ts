// What each handler runs (src/domain/handler-table.ts): one table for decide(), the denial messages
// and docs/inspect.md.
import { readFileSync } from 'node:fs'
import t from 'tap'
import jsonpatch from 'fast-json-patch'
import { decide, type Decision } from '../../src/policy/decide.js'
import { DEFAULT_HANDLERS, defaultPolicy } from '../../src/policy/defaults.js'
import { patchFor } from '../../src/admission/patch.js'
import { handlerTableMarkdown } from '../../src/domain/handler-table.js'
import { classify, parseManifestDocument, type ManifestDocument } from '../../src/facts/images/classify.js'
import { podTemplateOf } from '../../src/domain/workload.js'
import type { Facts, RuntimeClassInfo } from '../../src/domain/facts.js'
import type { KubeObject, Operation } from '../../src/domain/kube.js'
import type { Policy } from '../../src/domain/policy.js'
import { SEED_RCS, cluster, imagesOf, linux, wasm } from '../helpers/facts.js'
import { pod } from '../helpers/reviews.js'

const NGINX = 'docker.io/library/nginx:1.27'
const COMPONENT = 'registry.example/app/hello-http:v1'
const MODULE = 'registry.example/app/module:v1'
const SPIN = 'registry.example/app/spin-hello:v1'
const WAT = 'registry.example/app/wasi-scratch:v1'

// k3s's bundled RuntimeClasses (one per handler, no scheduling) and SpinKube's wasmtime-spin-v2.
const RCS: RuntimeClassInfo[] = [
  ...SEED_RCS,
  { name: 'k3s-crun', handler: 'crun', nodeSelector: {}, tolerations: [] },
  { name: 'wasmtime-spin-v2', handler: 'spin', nodeSelector: {}, tolerations: [] },
  { name: 'rcm-spin-v2', handler: 'spin-v2', nodeSelector: {}, tolerations: [] },
]
const facts: Facts = {
  images: imagesOf(
    linux(NGINX),
    wasm(COMPONENT, 'wasi', { packaging: 'wasm-component', hasEntrypoint: false }),
    wasm(MODULE, 'wasi', { packaging: 'wasm-artifact', hasEntrypoint: false }),
    wasm(SPIN, 'spin', { hasEntrypoint: false }),
    wasm(WAT, 'wasi', { packaging: 'wasm-file' }),
  ),
  cluster: cluster({ runtimeClasses: RCS, eligible: { crun: 2, 'k3s-crun': 6, 'wasmtime-spin-v2': 2, 'rcm-spin-v2': 2, 'spin-test': 2, wasm1: 4 } }),
}
const P = { group: '', version: 'v1', kind: 'Pod' }
function run(endpoint: 'mutate' | 'validate', obj: KubeObject, policy: Policy = defaultPolicy(), operation: Operation = 'CREATE'): { d: Decision; out: KubeObject } {
  const template = podTemplateOf(P, obj)!
  const d = decide({ endpoint, operation, kind: P, namespace: 'default', isPod: true, template }, facts, policy)
  const out = jsonpatch.applyPatch(structuredClone(obj), patchFor(obj, template, d.mutations), true, false).newDocument as KubeObject
  return { d, out }
}
const rules = (d: Decision) => d.violations.map((v) => v.rule)

t.test('validation follows the handler table', async (t) => {
  const cases: Array<{ name: string; obj: KubeObject; allowed: boolean; rules?: string[]; match?: RegExp; policy?: Policy }> = [
    { name: "a Linux image under k3s's crun RuntimeClass is admitted (crun runs ordinary containers)", obj: pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'k3s-crun' }), allowed: true },
    { name: 'a Linux image under a wasmtime class is still the policy\'s choice (denied by default)', obj: pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'wasm1' }), allowed: false, rules: ['linux-under-wasm'] },
    { name: '... and admitted when the policy allows it', obj: pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'wasm1' }), allowed: true, policy: { ...defaultPolicy(), linuxUnderWasmRuntimeClass: 'allow' } },
    { name: "a single-layer wasi:http component under SpinKube's spin shim (handler spin) is admitted", obj: pod([{ name: 'app', image: COMPONENT, command: ['/'] }], { runtimeClassName: 'wasmtime-spin-v2' }), allowed: true },
    { name: '... and under runtime-class-manager\'s spin-v2 handler', obj: pod([{ name: 'app', image: COMPONENT, command: ['/'] }], { runtimeClassName: 'rcm-spin-v2' }), allowed: true },
    { name: '... and under wasmtime', obj: pod([{ name: 'app', image: COMPONENT }], { runtimeClassName: 'wasm1' }), allowed: true },
    {
      name: 'a CNCF module under the spin shim is refused, naming the handlers that run it',
      obj: pod([{ name: 'app', image: MODULE }], { runtimeClassName: 'wasmtime-spin-v2' }),
      allowed: false,
      rules: ['wrong-handler'],
      match: /needs a wasi shim but RuntimeClass "wasmtime-spin-v2" has handler "spin" \(containerd-shim-spin, which cannot run wasm-artifact: other CNCF Wasm artifact \(module, or several layers\)\); fix: use a RuntimeClass with handler wasmtime, /,
    },
    {
      name: 'a Spin app under wasmtime is refused',
      obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'wasm1' }),
      allowed: false,
      rules: ['wrong-handler'],
      match: /needs a spin shim but RuntimeClass "wasm1" has handler "wasmtime" \(runwasi shims .*which cannot run spin-app: Spin app .*fix: use a RuntimeClass with handler spin, spin-v2/,
    },
    { name: 'a Spin app and a single-layer component share a pod under the spin shim', obj: pod([{ name: 'a', image: SPIN, command: ['/'] }, { name: 'b', image: COMPONENT, command: ['/'] }], { runtimeClassName: 'wasmtime-spin-v2' }), allowed: true },
    {
      name: 'a Spin app and a CNCF module have no handler in common',
      obj: pod([{ name: 'a', image: SPIN }, { name: 'b', image: MODULE }], { runtimeClassName: 'wasmtime-spin-v2' }),
      allowed: false,
      rules: ['mixed-runtimes'],
    },
    { name: 'a .wasm filesystem image under k3s crun without the crun annotation is refused', obj: pod([{ name: 'app', image: WAT }], { runtimeClassName: 'k3s-crun' }), allowed: false, rules: ['wrong-handler'] },
    { name: 'a Wasm image under runc is refused', obj: pod([{ name: 'app', image: COMPONENT }], { runtimeClassName: 'gvisor' }), allowed: false, rules: ['wrong-handler'], match: /has handler "runsc" \(not a Wasm handler\)/ },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { d } = run('validate', c.obj, c.policy)
      t.equal(d.allowed, c.allowed, 'allowed')
      if (c.rules) t.same(rules(d), c.rules)
      if (c.match) t.match(d.violations.map((v) => v.message).join('\n'), c.match)
    })
  }
})

t.test('mutation completes a component under a spin class the user chose, as a spin pod', async (t) => {
  const { out } = run('mutate', pod([{ name: 'app', image: COMPONENT }], { runtimeClassName: 'wasmtime-spin-v2' }))
  const spec = out['spec'] as Record<string, any>
  t.equal(spec.runtimeClassName, 'wasmtime-spin-v2', 'kept')
  t.same(spec.containers[0].command, ['/'], 'command ["/"] as containerd-shim-spin\'s own wkg workload sets')
  t.equal(run('validate', out).d.allowed, true)
  const untouched = run('mutate', pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'k3s-crun' }))
  t.same(untouched.d.mutations, [], 'a Linux pod under crun gets no crun annotation')
})

t.test('the classifier tells a single-layer component from other CNCF artifacts', async (t) => {
  const dg = (c: string) => `sha256:${c.repeat(64)}`
  const m = (layers: number) => parseManifestDocument({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.wasm.config.v0+json', digest: dg('c'), size: 10 }, layers: Array.from({ length: layers }, (_, i) => ({ mediaType: 'application/wasm', digest: dg(String(i)), size: 10 })) }) as ManifestDocument
  const component = { architecture: 'wasm', os: 'wasip2', layerDigests: [dg('0')], component: { exports: ['wasi:http/incoming-handler@0.2.0'], imports: [] } }
  const kindOf = (layers: number, config: unknown) => {
    const v = classify({ repository: 'r.example/x', manifest: m(layers), config })
    return v.kind === 'wasm' ? v.packaging : v.kind
  }
  t.equal(kindOf(1, component), 'wasm-component')
  t.equal(kindOf(2, component), 'wasm-artifact', 'the Spin shim wants a single layer')
  t.equal(kindOf(1, { architecture: 'wasm', os: 'wasip1', component: null }), 'wasm-artifact', 'a module')
})

t.test('docs/inspect.md shows the table the code uses', async (t) => {
  const doc = readFileSync(new URL('../../docs/inspect.md', import.meta.url), 'utf8')
  t.ok(doc.includes(handlerTableMarkdown(DEFAULT_HANDLERS)), 'docs/inspect.md contains handlerTableMarkdown(DEFAULT_HANDLERS) verbatim')
})
