// The mutation as a fixed point of the apiserver's RuntimeClass admission plugin
// (kubernetes v1.36.3 plugin/pkg/admission/runtimeclass/admission.go, pkg/util/tolerations).
// The call count on a real apiserver is in test/e2e/call-count.test.ts.
import t from 'tap'
import fc from 'fast-check'
import jsonpatch from 'fast-json-patch'
import { decide } from '../../src/policy/decide.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { patchFor } from '../../src/admission/patch.js'
import { isSuperset, mergeTolerations, runtimeClassAdditions } from '../../src/policy/runtime-class-plugin.js'
import { podTemplateOf } from '../../src/domain/workload.js'
import type { Facts, RuntimeClassInfo } from '../../src/domain/facts.js'
import type { KubeObject, Toleration } from '../../src/domain/kube.js'
import { cluster, imagesOf, linux, wasm } from '../helpers/facts.js'
import { pod } from '../helpers/reviews.js'

// The named tolerations of upstream's tolerations_test.go.
const N: Record<string, Toleration> = {
  all: { operator: 'Exists' },
  'foo-bar-nosched': { key: 'foo', operator: 'Equal', value: 'bar', effect: 'NoSchedule' },
  'foo-baz-nosched': { key: 'foo', operator: 'Equal', value: 'baz', effect: 'NoSchedule' },
  'foo-nosched': { key: 'foo', operator: 'Exists', effect: 'NoSchedule' },
  'faz-baz-nosched': { key: 'faz', operator: 'Equal', value: 'baz', effect: 'NoSchedule' },
  'foo-prefnosched': { key: 'foo', operator: 'Exists', effect: 'PreferNoSchedule' },
  'foo-noexec-10': { key: 'foo', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
}
const names = (xs: string[]) => xs.map((x) => N[x]!)

t.test("mergeTolerations: upstream's TestMergeTolerations table", async (t) => {
  const cases: Array<[string, string[], string[], string[]]> = [
    ['disjoint', ['foo-bar-nosched', 'faz-baz-nosched', 'foo-noexec-10'], ['foo-prefnosched', 'foo-baz-nosched'], ['foo-bar-nosched', 'faz-baz-nosched', 'foo-noexec-10', 'foo-prefnosched', 'foo-baz-nosched']],
    ['duplicate', ['foo-bar-nosched', 'faz-baz-nosched', 'foo-noexec-10'], ['foo-bar-nosched', 'faz-baz-nosched', 'foo-noexec-10'], ['foo-bar-nosched', 'faz-baz-nosched', 'foo-noexec-10']],
    ['merge redundant', ['foo-bar-nosched', 'foo-baz-nosched'], ['foo-nosched', 'faz-baz-nosched'], ['foo-nosched', 'faz-baz-nosched']],
    ['merge all', ['foo-bar-nosched', 'foo-baz-nosched', 'foo-noexec-10'], ['all'], ['all']],
    ['merge into all', ['all'], ['foo-bar-nosched', 'foo-baz-nosched', 'foo-noexec-10'], ['all']],
  ]
  for (const [name, a, b, expected] of cases) t.same(mergeTolerations(names(a), names(b)), names(expected), name)
  t.ok(isSuperset({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }, { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }), 'shorter tolerationSeconds is a subset')
  t.notOk(isSuperset({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }, { key: 'k', operator: 'Exists', effect: 'NoExecute' }), 'unbounded is not a subset of bounded')
  t.notOk(isSuperset({ key: 'k', value: 'v' }, { key: 'k', value: 'v', operator: 'Exists' }), 'an Equal (empty operator) toleration covers only Equal ones')
})

// Upstream's TestFuzzed generator: small key/value space, every effect, optional tolerationSeconds on NoExecute.
const toleration: fc.Arbitrary<Toleration> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Toleration>({ operator: 'Exists' }) },
  {
    weight: 99,
    arbitrary: fc.record({
      effect: fc.constantFrom<Toleration['effect']>(undefined, 'NoExecute', 'NoSchedule', 'PreferNoSchedule'),
      key: fc.integer({ min: 1, max: 3 }).map((n) => 'a'.repeat(n)),
      exists: fc.boolean(),
      value: fc.integer({ min: 1, max: 3 }).map((n) => 'b'.repeat(n)),
      secs: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    }).map(({ effect, key, exists, value, secs }) => {
      const tol: Toleration = { key, operator: exists ? 'Exists' : 'Equal' }
      if (!exists) tol.value = value
      if (effect) tol.effect = effect
      if (effect === 'NoExecute' && secs !== undefined) tol.tolerationSeconds = secs
      return tol
    }),
  },
)
const tolerations = fc.array(toleration, { maxLength: 8 })

t.test('mergeTolerations: every input is covered, and merging the RuntimeClass again changes nothing', async (t) => {
  fc.assert(
    fc.property(tolerations, tolerations, (a, b) => {
      const merged = mergeTolerations(a, b)
      for (const x of [...a, ...b]) if (!merged.some((m) => isSuperset(m, x))) return false
      // The fixed point the mutation relies on: the plugin's re-run on our output is a no-op.
      t.same(mergeTolerations(merged, b), merged)
      return true
    }),
    { numRuns: 300 },
  )
})

// ------------------------------------------------------------------ the mutation

const WASI = 'registry.example/app/crun-wasm:v1'
const SPIN = 'registry.example/app/spin:v1'
const NGINX = 'docker.io/library/nginx:1.27'
const DEFAULT_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
]
/** As in the e2e seed cluster: overhead, nodeSelector and a toleration. */
const CRUN: RuntimeClassInfo = { name: 'crun', handler: 'crun', nodeSelector: { 'wasmtime-enabled': 'yes' }, tolerations: [{ key: 'wasm-admission.io/crun', operator: 'Exists', effect: 'NoSchedule' }], overhead: { cpu: '50m', memory: '32Mi' } }
const SPIN_RC: RuntimeClassInfo = { name: 'spin-test', handler: 'spin', nodeSelector: { spin: 'yes' }, tolerations: [] }
const ALL_NOEXEC: RuntimeClassInfo = { name: 'spin-tolerant', handler: 'spin', nodeSelector: {}, tolerations: [{ operator: 'Exists', effect: 'NoExecute' }] }

/** The plugin's Admit on a pod as stored: what it would still change (empty = fixed point). */
function pluginWouldChange(o: KubeObject, rcs: RuntimeClassInfo[]) {
  const spec = o['spec'] as Record<string, any>
  const rc = rcs.find((r) => r.name === spec.runtimeClassName)
  if (!rc) return {}
  return runtimeClassAdditions(rc, { nodeSelector: spec.nodeSelector ?? {}, tolerations: spec.tolerations ?? [], overhead: spec.overhead })
}

function mutate(obj: KubeObject, facts: Facts): KubeObject {
  const kind = { group: '', version: 'v1', kind: 'Pod' }
  const template = podTemplateOf(kind, obj)!
  const d = decide({ endpoint: 'mutate', operation: 'CREATE', kind, namespace: 'default', isPod: true, template }, facts, defaultPolicy())
  return jsonpatch.applyPatch(structuredClone(obj), patchFor(obj, template, d.mutations), true, false).newDocument as KubeObject
}

t.test('the mutation adds what the RuntimeClass plugin would, merged as it merges', async (t) => {
  const rcs = [CRUN, SPIN_RC, ALL_NOEXEC]
  const c = cluster({ runtimeClasses: rcs, eligible: { crun: 2, 'spin-test': 2, 'spin-tolerant': 1 } })
  await t.test('overhead, nodeSelector and tolerations of the injected class', async (t) => {
    const out = mutate(pod([{ name: 'app', image: WASI }], { tolerations: DEFAULT_TOLERATIONS }), { images: imagesOf(wasm(WASI, 'crun')), cluster: c })
    const spec = out['spec'] as Record<string, any>
    t.equal(spec.runtimeClassName, 'crun')
    t.same(spec.nodeSelector, { 'wasmtime-enabled': 'yes' })
    t.same(spec.tolerations, [...DEFAULT_TOLERATIONS, CRUN.tolerations[0]])
    t.same(spec.overhead, { cpu: '50m', memory: '32Mi' })
    t.same(pluginWouldChange(out, rcs), {}, "the plugin's re-run changes nothing")
  })
  await t.test("the pod's own nodeSelector keys are kept and the class's added", async (t) => {
    const out = mutate(pod([{ name: 'app', image: SPIN }], { nodeSelector: { zone: 'a' } }), { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [SPIN_RC], eligible: { 'spin-test': 2 } }) })
    t.same((out['spec'] as any).nodeSelector, { zone: 'a', spin: 'yes' })
    t.same(pluginWouldChange(out, rcs), {})
  })
  await t.test('a class toleration that covers the pod\'s replaces them, as MergeTolerations does', async (t) => {
    const out = mutate(pod([{ name: 'app', image: SPIN }], { tolerations: DEFAULT_TOLERATIONS }), { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [ALL_NOEXEC], eligible: { 'spin-tolerant': 1 } }) })
    t.same((out['spec'] as any).tolerations, [{ operator: 'Exists', effect: 'NoExecute' }])
    t.same(pluginWouldChange(out, rcs), {})
  })
  await t.test('policy tolerations are merged with the class\'s too', async (t) => {
    const p = defaultPolicy()
    p.families.crun.tolerations = [{ key: 'wasm-admission.io/crun', operator: 'Exists', effect: 'NoSchedule' }, { key: 'x', operator: 'Equal', value: '1' }]
    const obj = pod([{ name: 'app', image: WASI }], { tolerations: DEFAULT_TOLERATIONS })
    const kind = { group: '', version: 'v1', kind: 'Pod' }
    const template = podTemplateOf(kind, obj)!
    const d = decide({ endpoint: 'mutate', operation: 'CREATE', kind, namespace: 'default', isPod: true, template }, { images: imagesOf(wasm(WASI, 'crun')), cluster: c }, p)
    const out = jsonpatch.applyPatch(structuredClone(obj), patchFor(obj, template, d.mutations), true, false).newDocument as KubeObject
    t.same((out['spec'] as any).tolerations, [...DEFAULT_TOLERATIONS, ...p.families.crun.tolerations], 'no duplicate of the class toleration')
    t.same(pluginWouldChange(out, rcs), {})
  })
  await t.test("a class with an empty scheduling object: the pod's redundant tolerations merged away, as the plugin does", async (t) => {
    // v1.36.3 plugin/pkg/admission/runtimeclass/admission.go setScheduling returns early only when
    // Scheduling is nil; `scheduling: {}` still runs MergeTolerations(pod, nil), which drops a
    // toleration another one of the pod's covers.
    const EMPTY_SCHED: RuntimeClassInfo = { name: 'spin-empty', handler: 'spin', nodeSelector: {}, tolerations: [], hasScheduling: true }
    const covered: Toleration[] = [{ key: 'k', operator: 'Exists' }, { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }]
    const out = mutate(pod([{ name: 'app', image: SPIN }], { tolerations: covered }), { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [EMPTY_SCHED], eligible: { 'spin-empty': 1 } }) })
    t.equal((out['spec'] as any).runtimeClassName, 'spin-empty')
    t.same((out['spec'] as any).tolerations, [covered[0]], 'the covered toleration is dropped')
    t.same(pluginWouldChange(out, [EMPTY_SCHED]), {}, "the plugin's re-run changes nothing")
    // Without a scheduling object the plugin leaves the list alone, and so does the mutation.
    const NO_SCHED: RuntimeClassInfo = { name: 'spin-empty', handler: 'spin', nodeSelector: {}, tolerations: [] }
    const plain = mutate(pod([{ name: 'app', image: SPIN }], { tolerations: covered }), { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [NO_SCHED], eligible: { 'spin-empty': 1 } }) })
    t.same((plain['spec'] as any).tolerations, covered)
  })
  await t.test('a pod the mutation leaves alone gets nothing from the class either', async (t) => {
    const obj = pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'crun', tolerations: DEFAULT_TOLERATIONS })
    const kind = { group: '', version: 'v1', kind: 'Pod' }
    const d = decide({ endpoint: 'mutate', operation: 'CREATE', kind, namespace: 'default', isPod: true, template: podTemplateOf(kind, obj)! }, { images: imagesOf(linux(NGINX)), cluster: c }, defaultPolicy())
    t.same(d.mutations, [])
  })
  await t.test('the patch never writes into the received object', async (t) => {
    const obj = pod([{ name: 'app', image: SPIN }], { nodeSelector: { zone: 'a' } })
    const before = structuredClone(obj)
    const kind = { group: '', version: 'v1', kind: 'Pod' }
    const template = podTemplateOf(kind, obj)!
    const d = decide({ endpoint: 'mutate', operation: 'CREATE', kind, namespace: 'default', isPod: true, template }, { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [SPIN_RC], eligible: { 'spin-test': 2 } }) }, defaultPolicy())
    const patch = patchFor(obj, template, d.mutations)
    t.same(obj, before, 'raw object unchanged')
    t.ok(patch.some((op) => op.path.startsWith('/spec/nodeSelector')), 'the nodeSelector addition is in the patch')
  })
})
