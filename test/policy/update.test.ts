// UPDATE semantics of decide(): a workload UPDATE is judged like a CREATE of its new template whenever
// anything that decides placement or runtime changes; a Pod UPDATE only on what a Pod update can
// change (ValidatePodUpdate, pkg/apis/core/validation/validation.go, v1.36.3). Plus the unpinned
// Wasm index that validation sees when mutation failed open or on an UPDATE.
import t from 'tap'
import { decide, type Decision } from '../../src/policy/decide.js'
import type { Facts } from '../../src/domain/facts.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { podTemplateOf } from '../../src/domain/workload.js'
import type { GroupVersionKind, KubeObject, Operation, PodScheduling } from '../../src/domain/kube.js'
import { SEED_RCS, cluster, imagesOf, linux, wasm } from '../helpers/facts.js'
import { pod } from '../helpers/reviews.js'

const SPIN = 'registry.example/app/spin-hello:v1'
const SPIN2 = 'registry.example/app/spin-hello:v2'
const NGINX = 'docker.io/library/nginx:1.27'
const INDEX = 'registry.example/app/multi:v1'
const PINNED = 'registry.example/app/multi@sha256:' + 'd'.repeat(64)

const RCS = [...SEED_RCS, { name: 'runc', handler: 'runc', nodeSelector: {}, tolerations: [] }]
/**
 * Two spin nodes, tainted wasm=true:NoSchedule; node-runc-1 has no shim. A pod is eligible for
 * spin-test on 2 nodes when it tolerates the taint and is not pinned elsewhere.
 */
function eligibleFor(rc: string, p: PodScheduling): number {
  if (rc !== 'spin-test' && rc !== 'crun') return 4
  if (p.nodeName !== undefined) return p.nodeName.startsWith('node-spin-') ? 1 : 0
  if (p.nodeSelector['zone'] === 'nowhere') return 0
  if (p.requiredNodeAffinity.length > 0) return 0
  return p.tolerations.some((x) => x.key === 'wasm') ? 2 : 0
}
const facts: Facts = {
  images: imagesOf(wasm(SPIN, 'spin'), wasm(SPIN2, 'spin'), linux(NGINX), wasm(INDEX, 'spin', { pinnedImage: PINNED }), wasm(PINNED, 'spin'), wasm('r.example/crun:v1', 'crun')),
  cluster: cluster({ runtimeClasses: RCS, eligibleFor }),
}
const TOLERATE = [{ key: 'wasm', operator: 'Exists', effect: 'NoSchedule' }]

const KINDS: Record<string, { gvk: GroupVersionKind; wrap: (tpl: KubeObject) => KubeObject }> = {
  Deployment: { gvk: { group: 'apps', version: 'v1', kind: 'Deployment' }, wrap: (tpl) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w' }, spec: { replicas: 1, selector: {}, template: tpl } }) },
  StatefulSet: { gvk: { group: 'apps', version: 'v1', kind: 'StatefulSet' }, wrap: (tpl) => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'w' }, spec: { replicas: 1, serviceName: 'w', template: tpl } }) },
  DaemonSet: { gvk: { group: 'apps', version: 'v1', kind: 'DaemonSet' }, wrap: (tpl) => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'w' }, spec: { template: tpl } }) },
  ReplicaSet: { gvk: { group: 'apps', version: 'v1', kind: 'ReplicaSet' }, wrap: (tpl) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'w' }, spec: { replicas: 1, template: tpl } }) },
  Job: { gvk: { group: 'batch', version: 'v1', kind: 'Job' }, wrap: (tpl) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'w' }, spec: { template: tpl } }) },
  CronJob: { gvk: { group: 'batch', version: 'v1', kind: 'CronJob' }, wrap: (tpl) => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'w' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: tpl } } } }) },
}

interface Tpl {
  spec: Record<string, unknown>
  annotations?: Record<string, string>
  labels?: Record<string, string>
}
const tpl = (x: Tpl): KubeObject => ({ metadata: { labels: { app: 'w', ...x.labels }, ...(x.annotations ? { annotations: x.annotations } : {}) }, spec: x.spec })

function judge(gvk: GroupVersionKind, obj: KubeObject, operation: Operation, old?: KubeObject, f: Facts = facts): Decision {
  const template = podTemplateOf(gvk, obj)!
  const oldTemplate = old ? podTemplateOf(gvk, old) : undefined
  return decide({ endpoint: 'validate', operation, kind: gvk, namespace: 'default', isPod: gvk.kind === 'Pod', template, oldTemplate }, f, defaultPolicy())
}
const rules = (d: Decision) => d.violations.map((v) => v.rule)

// The template every workload starts from: a Spin app on the spin nodes, tolerating their taint.
const BASE: Tpl = { spec: { runtimeClassName: 'spin-test', tolerations: TOLERATE, containers: [{ name: 'app', image: SPIN }] } }
const withSpec = (extra: Record<string, unknown>): Tpl => ({ spec: { ...BASE.spec, ...extra } })

t.test('a workload UPDATE that changes placement or runtime is judged like the CREATE of its new template', async (t) => {
  const changes: Array<{ name: string; next: Tpl; rules: string[] }> = [
    { name: 'runtimeClassName switched to runc', next: withSpec({ runtimeClassName: 'runc' }), rules: ['wrong-handler'] },
    { name: 'runtimeClassName removed', next: { spec: { tolerations: TOLERATE, containers: [{ name: 'app', image: SPIN }], nodeSelector: { zone: 'nowhere' } } }, rules: ['no-eligible-node'] },
    { name: 'nodeName pins it to a node without the shim', next: withSpec({ nodeName: 'node-runc-1' }), rules: ['no-eligible-node'] },
    { name: 'nodeSelector no shim node matches', next: withSpec({ nodeSelector: { zone: 'nowhere' } }), rules: ['no-eligible-node'] },
    { name: 'required node affinity no shim node matches', next: withSpec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }] } } } }), rules: ['no-eligible-node'] },
    { name: "toleration of the shim nodes' taint removed", next: withSpec({ tolerations: [] }), rules: ['no-eligible-node'] },
    { name: 'image changed to a Linux image', next: withSpec({ containers: [{ name: 'app', image: NGINX }] }), rules: ['linux-under-wasm'] },
  ]
  for (const [kind, k] of Object.entries(KINDS)) {
    for (const c of changes) {
      await t.test(`${kind}: ${c.name}`, async (t) => {
        const old = k.wrap(tpl(BASE))
        const next = k.wrap(tpl(c.next))
        t.equal(judge(k.gvk, old, 'CREATE').allowed, true, 'the old template is fine')
        const create = judge(k.gvk, next, 'CREATE')
        const update = judge(k.gvk, next, 'UPDATE', old)
        t.equal(create.allowed, false, 'CREATE of the new template is denied')
        t.equal(update.allowed, false, 'so is the UPDATE')
        t.same(rules(update), rules(create), 'for the same reasons')
        // DaemonSets add their own placement rule to node eligibility; the rest must match exactly.
        if (kind !== 'DaemonSet') t.same(rules(update), c.rules)
        t.same(update.violations.map((v) => v.message), create.violations.map((v) => v.message), 'with the same messages')
      })
    }
  }
})

t.test('a workload UPDATE that changes nothing about placement or runtime is not re-judged', async (t) => {
  // The cluster lost its shim nodes since the Deployment was created: CREATE would now be denied,
  // but a scale, a restart or a label change must not start failing because of that.
  const lost: Facts = { ...facts, cluster: cluster({ runtimeClasses: RCS, eligibleFor: () => 0 }) }
  const k = KINDS['Deployment']!
  const old = k.wrap(tpl(BASE))
  t.equal(judge(k.gvk, old, 'CREATE', undefined, lost).allowed, false, 'CREATE would be denied now')
  const unchanged: Array<{ name: string; next: KubeObject }> = [
    { name: 'replicas', next: { ...old, spec: { ...(old['spec'] as object), replicas: 5 } } },
    { name: 'rollout restart annotation', next: k.wrap(tpl({ ...BASE, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-30T00:00:00Z' } })) },
    { name: 'template label', next: k.wrap(tpl({ ...BASE, labels: { tier: 'web' } })) },
    { name: 'env and resources', next: k.wrap(tpl(withSpec({ containers: [{ name: 'app', image: SPIN, env: [{ name: 'A', value: '1' }], resources: { limits: { cpu: '1' } } }] }))) },
    { name: 'nodeSelector keys in another order', next: k.wrap(tpl(withSpec({ nodeSelector: { b: '2', a: '1' } }))) },
  ]
  for (const c of unchanged) {
    const base = c.name === 'nodeSelector keys in another order' ? k.wrap(tpl(withSpec({ nodeSelector: { a: '1', b: '2' } }))) : old
    const d = judge(k.gvk, c.next, 'UPDATE', base, lost)
    t.equal(d.allowed, true, `${c.name}: allowed`)
    t.same(d.violations, [], `${c.name}: not judged`)
  }
  // The pod annotation that switches crun to Wasm decides the runtime: removing it is judged.
  const crunOld = k.wrap(tpl({ spec: { runtimeClassName: 'crun', tolerations: TOLERATE, containers: [{ name: 'app', image: 'r.example/crun:v1' }] }, annotations: { 'module.wasm.image/variant': 'compat-smart' } }))
  const crunNew = k.wrap(tpl({ spec: { runtimeClassName: 'crun', tolerations: [], containers: [{ name: 'app', image: 'r.example/crun:v1' }] } }))
  t.equal(judge(k.gvk, crunNew, 'UPDATE', crunOld).allowed, false, 'crun annotation and toleration removed: judged')
})

t.test('a Pod UPDATE is judged on what a Pod update can change', async (t) => {
  const P = { group: '', version: 'v1', kind: 'Pod' }
  const spinPod = (spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test', tolerations: TOLERATE, ...spec }, meta)
  const cases: Array<{ name: string; old: KubeObject; next: KubeObject; allowed: boolean; rules?: string[] }> = [
    { name: 'image changed to a Linux image: judged', old: spinPod(), next: pod([{ name: 'app', image: NGINX }], { runtimeClassName: 'spin-test', tolerations: TOLERATE }), allowed: false, rules: ['linux-under-wasm'] },
    { name: 'image of a bound pod changed: judged against its node', old: spinPod({ nodeName: 'node-runc-1' }), next: pod([{ name: 'app', image: SPIN2 }], { runtimeClassName: 'spin-test', tolerations: TOLERATE, nodeName: 'node-runc-1' }), allowed: false, rules: ['no-eligible-node'] },
    { name: 'image changed to an unpinned Wasm index: denied with the pinned reference', old: spinPod(), next: pod([{ name: 'app', image: INDEX }], { runtimeClassName: 'spin-test', tolerations: TOLERATE }), allowed: false, rules: ['unpinned-index'] },
    { name: 'gated pod: nodeSelector added that no shim node matches: judged', old: spinPod({ schedulingGates: [{ name: 'g' }] }), next: spinPod({ schedulingGates: [{ name: 'g' }], nodeSelector: { zone: 'nowhere' } }), allowed: false, rules: ['no-eligible-node'] },
    { name: 'gated pod: node affinity narrowed: judged', old: spinPod({ schedulingGates: [{ name: 'g' }] }), next: spinPod({ schedulingGates: [{ name: 'g' }], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }] } } } }), allowed: false, rules: ['no-eligible-node'] },
    { name: 'label change: not judged', old: spinPod({ nodeSelector: { zone: 'nowhere' } }), next: spinPod({ nodeSelector: { zone: 'nowhere' } }, { labels: { x: 'y' } }), allowed: true },
    { name: 'activeDeadlineSeconds set: not judged', old: spinPod({ nodeSelector: { zone: 'nowhere' } }), next: spinPod({ nodeSelector: { zone: 'nowhere' }, activeDeadlineSeconds: 30 }), allowed: true },
    { name: 'scheduling gate removed: not judged (placement constraints unchanged)', old: spinPod({ schedulingGates: [{ name: 'g' }], nodeSelector: { zone: 'nowhere' } }), next: spinPod({ nodeSelector: { zone: 'nowhere' } }), allowed: true },
    { name: 'toleration added to a bound pod: not judged (it no longer moves)', old: spinPod({ nodeName: 'node-runc-1' }), next: spinPod({ nodeName: 'node-runc-1', tolerations: [...TOLERATE, { key: 'x', operator: 'Exists' }] }), allowed: true },
    { name: 'toleration added to an unbound pod: judged', old: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test' }), next: pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test', tolerations: [{ key: 'x', operator: 'Exists' }] }), allowed: false, rules: ['no-eligible-node'] },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const d = judge(P, c.next, 'UPDATE', c.old)
      t.equal(d.allowed, c.allowed, 'allowed')
      if (c.rules) t.same(rules(d), c.rules)
      if (!c.allowed) t.same(rules(d), rules(judge(P, c.next, 'CREATE')), 'judged as a CREATE of the updated pod would be')
    })
  }
})

t.test('an unpinned Wasm index that validation sees is denied in enforce mode, with the pinned reference as the fix', async (t) => {
  const P = { group: '', version: 'v1', kind: 'Pod' }
  // Mutation failed open: the pod arrives with the index tag and without runtimeClassName.
  const failedOpen = judge(P, pod([{ name: 'app', image: INDEX }], { tolerations: TOLERATE }), 'CREATE')
  t.equal(failedOpen.allowed, false)
  t.same(rules(failedOpen), ['unpinned-index', 'no-runtime-class'])
  t.match(failedOpen.violations[0]!.message, `container "app" (image "${INDEX}") is an image index`)
  t.match(failedOpen.violations[0]!.message, `fix: set the image to "${PINNED}"`)
  // With a RuntimeClass but still the tag: only the pinning is missing.
  const onlyPin = judge(P, pod([{ name: 'app', image: INDEX }], { runtimeClassName: 'spin-test', tolerations: TOLERATE }), 'CREATE')
  t.same(rules(onlyPin), ['unpinned-index'])
  // The pinned reference itself is fine.
  t.equal(judge(P, pod([{ name: 'app', image: PINNED }], { runtimeClassName: 'spin-test', tolerations: TOLERATE }), 'CREATE').allowed, true)
  // Workload templates keep the tag: the pods they create are pinned by the mutating hook.
  const dep = KINDS['Deployment']!
  t.equal(judge(dep.gvk, dep.wrap(tpl({ spec: { tolerations: TOLERATE, containers: [{ name: 'app', image: INDEX }] } })), 'CREATE').allowed, true, 'a Deployment of the index tag is fine')
  // warn mode: a warning, not a denial.
  const warnFacts: Facts = { ...facts, cluster: { ...facts.cluster, namespaceLabels: () => ({ 'wasm-admission.io/mode': 'warn' }) } }
  const warned = judge(P, pod([{ name: 'app', image: INDEX }], { runtimeClassName: 'spin-test', tolerations: TOLERATE }), 'CREATE', undefined, warnFacts)
  t.equal(warned.allowed, true)
  t.match(warned.warnings.join('\n'), /would deny: .*is an image index.*fix: set the image to/)
})
