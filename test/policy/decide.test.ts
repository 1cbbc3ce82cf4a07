import t, { type Test } from 'tap'
import jsonpatch from 'fast-json-patch'
import { decide } from '../../src/policy/decide.js'
import type { Endpoint } from '../../src/domain/endpoint.js'
import type { Facts } from '../../src/domain/facts.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { patchFor } from '../../src/admission/patch.js'
import { podTemplateOf } from '../../src/domain/workload.js'
import type { KubeObject, Operation } from '../../src/domain/kube.js'
import type { Policy } from '../../src/domain/policy.js'
import { SEED_RCS, cluster, imagesOf, linux, unknown, unsupported, wasm } from '../helpers/facts.js'
import { deployment, pod } from '../helpers/reviews.js'

const SPIN = 'registry.example/app/spin-hello:v1'
const WASI = 'registry.example/app/wasi-component:v1'
const NGINX = 'docker.io/library/nginx:1.27'
const INDEX = 'registry.example/app/multi:v1'
const PINNED = 'registry.example/app/multi@sha256:' + 'd'.repeat(64)

const seed = cluster({ runtimeClasses: SEED_RCS, eligible: { wasm1: 4, 'spin-test': 2, crun: 6 }, namespaces: { warnns: { 'wasm-admission.io/mode': 'warn' }, auditns: { 'wasm-admission.io/mode': 'audit' }, offns: { 'wasm-admission.io/mode': 'off' } } })
const noSpinNodes = cluster({ runtimeClasses: SEED_RCS, eligible: { wasm1: 4, 'spin-test': 0 } })

function run(endpoint: Endpoint, obj: KubeObject, facts: Facts, policy: Policy = defaultPolicy(), o: { operation?: Operation; namespace?: string; old?: KubeObject } = {}) {
  const kind = obj['kind'] === 'Pod' ? { group: '', version: 'v1', kind: 'Pod' } : { group: 'apps', version: 'v1', kind: String(obj['kind']) }
  const template = podTemplateOf(kind, obj)!
  const oldTemplate = o.old ? podTemplateOf(kind, o.old) : undefined
  const d = decide({ endpoint, operation: o.operation ?? 'CREATE', kind, namespace: o.namespace ?? 'default', isPod: kind.kind === 'Pod', template, oldTemplate }, facts, policy)
  return { d, patch: patchFor(obj, template, d.mutations) }
}

function mutated(obj: KubeObject, facts: Facts, policy?: Policy): KubeObject {
  const { patch } = run('mutate', obj, facts, policy)
  return jsonpatch.applyPatch(structuredClone(obj), patch, true, false).newDocument as KubeObject
}

const spec = (o: KubeObject) => o['spec'] as Record<string, any>

t.test('mutation', async (t) => {
  const cases: Array<{ name: string; obj: KubeObject; facts: Facts; policy?: Policy; expect: (t: Test, o: KubeObject, d: ReturnType<typeof run>) => void }> = [
    {
      name: 'an ordinary Linux pod is untouched (no patch)',
      obj: pod([{ name: 'web', image: NGINX }]),
      facts: { images: imagesOf(linux(NGINX)), cluster: seed },
      expect: (t, _o, r) => {
        t.same(r.patch, [])
        t.equal(r.d.outcome, 'allowed')
      },
    },
    {
      name: 'a FROM-scratch Spin image gets the spin RuntimeClass and command ["/"]',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false })), cluster: seed },
      expect: (t, o, r) => {
        t.equal(spec(o).runtimeClassName, 'spin-test')
        t.same(spec(o).containers[0].command, ['/'])
        t.equal(r.d.outcome, 'mutated')
      },
    },
    {
      name: 'a container that already has a command keeps it',
      obj: pod([{ name: 'app', image: SPIN, command: ['/custom'] }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false })), cluster: seed },
      expect: (t, o) => t.same(spec(o).containers[0].command, ['/custom']),
    },
    {
      name: 'a WASI component gets the wasmtime RuntimeClass and no command',
      obj: pod([{ name: 'app', image: WASI }]),
      facts: { images: imagesOf(wasm(WASI, 'wasi')), cluster: seed },
      expect: (t, o) => {
        t.equal(spec(o).runtimeClassName, 'wasm1')
        t.notOk('command' in spec(o).containers[0])
      },
    },
    {
      name: 'a runtimeClassName the user set is never overwritten',
      obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'wasm1' }),
      facts: { images: imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false })), cluster: seed },
      expect: (t, o, r) => {
        t.equal(spec(o).runtimeClassName, 'wasm1')
        t.same(r.patch, [], 'a class of another family is left for validation to explain')
      },
    },
    {
      name: 'a user-set class of the right family is completed (command) but kept',
      obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test' }),
      facts: { images: imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false })), cluster: seed },
      expect: (t, o) => {
        t.equal(spec(o).runtimeClassName, 'spin-test')
        t.same(spec(o).containers[0].command, ['/'])
      },
    },
    {
      name: 'a Wasm entry of a mixed index is pinned to its digest',
      obj: pod([{ name: 'app', image: INDEX }]),
      facts: { images: imagesOf(wasm(INDEX, 'wasi', { pinnedImage: PINNED })), cluster: seed },
      expect: (t, o) => t.equal(spec(o).containers[0].image, PINNED),
    },
    {
      name: 'crun images get the pod annotation crun needs',
      obj: pod([{ name: 'app', image: WASI }]),
      facts: { images: imagesOf(wasm(WASI, 'crun')), cluster: seed },
      expect: (t, o) => {
        t.equal(spec(o).runtimeClassName, 'crun')
        t.same((o['metadata'] as any).annotations, { 'module.wasm.image/variant': 'compat-smart' })
      },
    },
    {
      name: 'mixed pods (Wasm app + Linux sidecar) are mutated when allowed',
      obj: pod([{ name: 'app', image: SPIN }, { name: 'proxy', image: NGINX }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed },
      expect: (t, o) => t.equal(spec(o).runtimeClassName, 'spin-test'),
    },
    {
      name: 'mixed pods are left alone when the policy denies them',
      obj: pod([{ name: 'app', image: SPIN }, { name: 'proxy', image: NGINX }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed },
      policy: { ...defaultPolicy(), mixedPods: 'deny' },
      expect: (t, _o, r) => t.same(r.patch, []),
    },
    {
      name: 'two Wasm families in one pod: no mutation',
      obj: pod([{ name: 'a', image: SPIN }, { name: 'b', image: WASI }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin'), wasm(WASI, 'wasi')), cluster: seed },
      expect: (t, _o, r) => t.same(r.patch, []),
    },
    {
      name: 'policy tolerations are added once, existing ones kept',
      obj: pod([{ name: 'app', image: SPIN }], { tolerations: [{ key: 'wasm', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] }),
      facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed },
      policy: (() => {
        const p = defaultPolicy()
        p.families.spin.tolerations = [{ key: 'wasm', value: 'true', effect: 'NoSchedule' }, { key: 'spin', operator: 'Exists' }]
        return p
      })(),
      expect: (t, o) => t.same(spec(o).tolerations, [{ key: 'wasm', operator: 'Equal', value: 'true', effect: 'NoSchedule' }, { key: 'spin', operator: 'Exists' }]),
    },
    {
      name: 'a fixed RuntimeClass name from the policy is used as is',
      obj: pod([{ name: 'app', image: WASI }]),
      facts: { images: imagesOf(wasm(WASI, 'wasi')), cluster: seed },
      policy: (() => {
        const p = defaultPolicy()
        p.families.wasi.runtimeClass = { name: 'my-wasmtime' }
        return p
      })(),
      expect: (t, o) => t.equal(spec(o).runtimeClassName, 'my-wasmtime'),
    },
    {
      name: 'automatic choice prefers the class with eligible nodes',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: {
        images: imagesOf(wasm(SPIN, 'spin')),
        cluster: cluster({ runtimeClasses: [...SEED_RCS, { name: 'a-spin', handler: 'spin-v2', nodeSelector: {}, tolerations: [] }], eligible: { 'a-spin': 0, 'spin-test': 2 } }),
      },
      expect: (t, o) => t.equal(spec(o).runtimeClassName, 'spin-test'),
    },
    {
      name: 'unknown image facts: no mutation',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: { images: imagesOf(unknown(SPIN)), cluster: seed },
      expect: (t, _o, r) => t.same(r.patch, []),
    },
    {
      name: 'without cluster facts no RuntimeClass is guessed',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: { ...seed, known: false, runtimeClasses: () => [] } },
      expect: (t, _o, r) => t.same(r.patch, []),
    },
    {
      name: 'no RuntimeClass of the family exists: no mutation',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [SEED_RCS[0]!] }) },
      expect: (t, _o, r) => t.same(r.patch, []),
    },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const r = run('mutate', c.obj, c.facts, c.policy)
      const out = jsonpatch.applyPatch(structuredClone(c.obj), r.patch, true, false).newDocument as KubeObject
      c.expect(t, out, r)
      // Idempotence: the apiserver may reinvoke; admitting the mutated pod again yields no patch.
      const pinnedFacts = new Map(c.facts.images)
      for (const f of c.facts.images.values()) if (f.kind === 'wasm' && f.pinnedImage) pinnedFacts.set(f.pinnedImage, { ...f, image: f.pinnedImage, pinnedImage: null })
      t.same(run('mutate', out, { ...c.facts, images: pinnedFacts }, c.policy).patch, [], 'second admission yields no patch')
    })
  }
})

t.test('the patch is computed against the raw object and keeps unknown fields', async (t) => {
  const obj = pod([{ name: 'app', image: SPIN }], { someFutureField: { x: 1 } })
  const r = run('mutate', obj, { images: imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false })), cluster: seed })
  t.ok(r.patch.every((op) => op.op === 'add'), 'only additions')
  t.same(r.patch.map((op) => op.path).sort(), ['/spec/containers/0/command', '/spec/nodeSelector', '/spec/runtimeClassName'], 'the nodeSelector the RuntimeClass plugin would add is added first')
})

t.test('modes at the mutating endpoint', async (t) => {
  const obj = pod([{ name: 'app', image: SPIN }])
  const facts = { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }
  t.equal(run('mutate', obj, facts, undefined, { namespace: 'warnns' }).d.outcome, 'mutated', 'warn mode still mutates')
  const audit = run('mutate', obj, facts, undefined, { namespace: 'auditns' })
  t.same(audit.patch, [], 'audit mode does not mutate')
  t.match(audit.d.auditAnnotations, { 'would-mutate': /runtimeClassName=spin-test/ })
  const off = run('mutate', obj, facts, undefined, { namespace: 'offns' })
  t.equal(off.d.outcome, 'skipped')
  t.same(off.patch, [])
  t.equal(run('mutate', obj, facts, { ...defaultPolicy(), defaultMode: 'off' }).d.outcome, 'skipped', 'policy default mode applies to unlabelled namespaces')
  t.same(run('mutate', obj, facts, undefined, { operation: 'UPDATE', old: obj }).patch, [], 'UPDATE is never mutated')
  t.same(run('mutate', deployment([{ name: 'app', image: SPIN }]), facts).patch, [], 'workloads are never mutated')
})

t.test('validation', async (t) => {
  const cases: Array<{ name: string; obj: KubeObject; facts: Facts; policy?: Policy; namespace?: string; allowed: boolean; match?: RegExp; warn?: RegExp; rules?: string[] }> = [
    { name: 'Linux pod allowed', obj: pod([{ name: 'web', image: NGINX }]), facts: { images: imagesOf(linux(NGINX)), cluster: seed }, allowed: true },
    { name: 'mutated Spin pod allowed', obj: mutated(pod([{ name: 'app', image: SPIN }]), { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, allowed: true },
    {
      name: 'Wasm image without RuntimeClass is denied, naming container, image, cause and fix',
      obj: pod([{ name: 'app', image: SPIN }]),
      facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed },
      allowed: false,
      rules: ['no-runtime-class'],
      match: /container "app" \(image "registry.example\/app\/spin-hello:v1"\) is a spin Wasm image .*would run under runc.*fix: set runtimeClassName to a RuntimeClass with handler spin/,
    },
    { name: 'RuntimeClass that does not exist', obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'nope' }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, allowed: false, rules: ['runtime-class-missing'], match: /RuntimeClass "nope" does not exist/ },
    { name: 'wrong shim for the image', obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'wasm1' }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, allowed: false, rules: ['wrong-handler'], match: /needs a spin shim but RuntimeClass "wasm1" has handler "wasmtime"/ },
    { name: 'Wasm image under a non-Wasm class', obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'gvisor' }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, allowed: false, rules: ['wrong-handler'] },
    { name: 'Linux image under a Wasm RuntimeClass', obj: pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'spin-test' }), facts: { images: imagesOf(linux(NGINX)), cluster: seed }, allowed: false, rules: ['linux-under-wasm'], match: /container "web" \(image "docker.io\/library\/nginx:1.27"\) is a Linux image.*runs spin Wasm; fix/ },
    { name: 'Linux image under a Wasm RuntimeClass, allowed by policy', obj: pod([{ name: 'web', image: NGINX }], { runtimeClassName: 'wasm1' }), facts: { images: imagesOf(linux(NGINX)), cluster: seed }, policy: { ...defaultPolicy(), linuxUnderWasmRuntimeClass: 'allow' }, allowed: true },
    { name: 'RuntimeClass with no eligible node', obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test' }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: noSpinNodes }, allowed: false, rules: ['no-eligible-node'], match: /container "app".*0\/6 nodes can run RuntimeClass spin-test \(handler spin\): 6 lack the spin shim; fix: provision/ },
    { name: 'no eligible node, check disabled', obj: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test' }), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: noSpinNodes }, policy: { ...defaultPolicy(), requireEligibleNode: false }, allowed: true },
    { name: 'unsupported Wasm artifact', obj: pod([{ name: 'p', image: 'r.example/provider:1' }]), facts: { images: imagesOf(unsupported('r.example/provider:1')), cluster: seed }, allowed: false, rules: ['unsupported-artifact'], match: /no pod can run/ },
    { name: 'two Wasm families', obj: pod([{ name: 'a', image: SPIN }, { name: 'b', image: WASI }]), facts: { images: imagesOf(wasm(SPIN, 'spin'), wasm(WASI, 'wasi')), cluster: seed }, allowed: false, rules: ['mixed-runtimes'] },
    { name: 'mixed pod denied by policy', obj: pod([{ name: 'app', image: SPIN }, { name: 'proxy', image: NGINX }], { runtimeClassName: 'spin-test' }), facts: { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed }, policy: { ...defaultPolicy(), mixedPods: 'deny' }, allowed: false, rules: ['mixed-pod'] },
    { name: 'mixed pod allowed by default', obj: pod([{ name: 'app', image: SPIN }, { name: 'proxy', image: NGINX }], { runtimeClassName: 'spin-test' }), facts: { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed }, allowed: true },
    { name: 'unknown image, onUnknownImage allow: allowed with a warning', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(unknown(SPIN)), cluster: seed }, allowed: true, warn: /could not be inspected: registry example.com is unreachable/ },
    { name: 'unknown image, onUnknownImage deny, enforce: denied', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(unknown(SPIN)), cluster: seed }, policy: { ...defaultPolicy(), onUnknownImage: 'deny' }, allowed: false, rules: ['unknown-image'] },
    { name: 'unknown image, onUnknownImage deny, warn mode: allowed with warning', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(unknown(SPIN)), cluster: seed }, policy: { ...defaultPolicy(), onUnknownImage: 'deny' }, namespace: 'warnns', allowed: true, warn: /warn mode\) would deny: .*could not be inspected/ },
    { name: 'unknown image, onUnknownImage deny, audit mode: allowed, no warning', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(unknown(SPIN)), cluster: seed }, policy: { ...defaultPolicy(), onUnknownImage: 'deny' }, namespace: 'auditns', allowed: true },
    { name: 'unknown image, onUnknownImage deny, off: allowed', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(unknown(SPIN)), cluster: seed }, policy: { ...defaultPolicy(), onUnknownImage: 'deny' }, namespace: 'offns', allowed: true },
    { name: 'warn mode turns denials into warnings', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, namespace: 'warnns', allowed: true, warn: /would deny: .*no runtimeClassName/ },
    { name: 'Deployment of a Spin image without runtimeClassName: validated as its pods will be', obj: deployment([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: seed }, allowed: true },
    { name: 'Deployment whose pods could never start is refused at apply time', obj: deployment([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: noSpinNodes }, allowed: false, rules: ['no-eligible-node'], match: /0\/6 nodes can run RuntimeClass spin-test/ },
    { name: 'Deployment of a pinned index image validates against the pinned fact', obj: deployment([{ name: 'app', image: INDEX }]), facts: { images: imagesOf(wasm(INDEX, 'wasi', { pinnedImage: PINNED })), cluster: seed }, allowed: true },
    { name: 'Deployment with no RuntimeClass of the family', obj: deployment([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: [SEED_RCS[0]!] }) }, allowed: false, rules: ['no-runtime-class'], match: /no RuntimeClass has a spin handler/ },
    { name: 'no cluster facts: Wasm pod without class is still denied, with a warning', obj: pod([{ name: 'app', image: SPIN }]), facts: { images: imagesOf(wasm(SPIN, 'spin')), cluster: { ...seed, known: false } }, allowed: false, rules: ['no-runtime-class'] },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { d } = run('validate', c.obj, c.facts, c.policy, { namespace: c.namespace ?? 'default' })
      t.equal(d.allowed, c.allowed, 'allowed')
      if (c.rules) t.same(d.violations.map((v) => v.rule), c.rules, 'rules')
      if (c.match) t.match(d.violations.map((v) => v.message).join('\n'), c.match)
      if (c.warn) t.match(d.warnings.join('\n'), c.warn)
      t.same(d.mutations, [], 'validation never mutates')
    })
  }
})

t.test('spec.nodeName counts: a pod bound to a node without the shim is denied', async (t) => {
  const c = cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2 }, boundTo: { 'spin-test': { 'node-spin-1': true } } })
  const facts = { images: imagesOf(wasm(SPIN, 'spin')), cluster: c }
  const bound = run('validate', pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test', nodeName: 'node-runc-1' }), facts)
  t.equal(bound.d.allowed, false)
  t.same(bound.d.violations.map((v) => v.rule), ['no-eligible-node'])
  t.equal(run('validate', pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test', nodeName: 'node-spin-1' }), facts).d.allowed, true)
})

t.test('DaemonSets: every node the template targets must be able to run the RuntimeClass', async (t) => {
  const ds = (spec: Record<string, unknown> = {}) => ({ ...deployment([{ name: 'app', image: SPIN }], spec), kind: 'DaemonSet' })
  const facts = { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2 }, daemonSetMisses: { 'spin-test': ['node-runc-1', 'node-wasm-1'] } }) }
  const r = run('validate', ds(), facts)
  t.equal(r.d.allowed, false)
  t.same(r.d.violations.map((v) => v.rule), ['daemonset-placement'])
  t.match(r.d.violations[0]!.message, /targets 6 nodes, 2 of which cannot run RuntimeClass spin-test \(handler spin\): node-runc-1, node-wasm-1; .*fix: add nodeSelector spin=yes to the pod template/)
  const fine = { ...facts, cluster: cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2 } }) }
  t.equal(run('validate', ds({ nodeSelector: { spin: 'yes' } }), fine).d.allowed, true, 'a template restricted to the shim nodes is fine')
  t.equal(run('validate', deployment([{ name: 'app', image: SPIN }]), facts).d.allowed, true, 'Deployments are placed by the scheduler, which honours the RuntimeClass')
})

t.test('automatic choice skips RuntimeClasses whose nodeSelector contradicts the pod', async (t) => {
  const rcs = [...SEED_RCS, { name: 'spin-edge', handler: 'spin', nodeSelector: { zone: 'edge' }, tolerations: [] }]
  const facts = { images: imagesOf(wasm(SPIN, 'spin')), cluster: cluster({ runtimeClasses: rcs, eligible: { 'spin-test': 2, 'spin-edge': 1 } }) }
  const chosen = mutated(pod([{ name: 'app', image: SPIN }], { nodeSelector: { spin: 'no' } }), facts)
  t.equal(spec(chosen).runtimeClassName, 'spin-edge', 'the class that does not conflict')
  const none = run('mutate', pod([{ name: 'app', image: SPIN }], { nodeSelector: { spin: 'no', zone: 'core' } }), facts)
  t.same(none.patch, [], 'no class is injected when all conflict')
  const v = run('validate', pod([{ name: 'app', image: SPIN }], { nodeSelector: { spin: 'no', zone: 'core' } }), facts)
  t.match(v.d.violations[0]!.message, /every RuntimeClass with a spin handler conflicts with the pod's nodeSelector: /)
  t.match(v.d.violations[0]!.message, /spin-edge needs nodeSelector zone=edge \(the pod has zone=core\)/)
  t.match(v.d.violations[0]!.message, /spin-test needs nodeSelector spin=yes \(the pod has spin=no\)/)
})

t.test('a Pod UPDATE that changes no image is not re-judged (runtimeClassName is immutable on Pods)', async (t) => {
  const facts = { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed }
  const old = pod([{ name: 'app', image: NGINX }])
  const same = pod([{ name: 'app', image: NGINX }], { runtimeClassName: 'spin-test' })
  t.equal(run('validate', same, facts, undefined, { operation: 'UPDATE', old }).d.allowed, true, 'no image change: not re-judged')
  const changed = pod([{ name: 'app', image: SPIN }])
  const r = run('validate', changed, facts, undefined, { operation: 'UPDATE', old })
  t.equal(r.d.allowed, false)
  t.same(r.d.violations.map((v) => v.rule), ['no-runtime-class'])
})

t.test('the verdict does not depend on container order', async (t) => {
  const facts = { images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: seed }
  const a = run('validate', pod([{ name: 'app', image: SPIN }, { name: 'proxy', image: NGINX }]), facts, { ...defaultPolicy(), mixedPods: 'deny' })
  const b = run('validate', pod([{ name: 'proxy', image: NGINX }, { name: 'app', image: SPIN }]), facts, { ...defaultPolicy(), mixedPods: 'deny' })
  t.equal(a.d.allowed, b.d.allowed)
  t.same(a.d.violations.map((v) => v.rule), b.d.violations.map((v) => v.rule))
})
