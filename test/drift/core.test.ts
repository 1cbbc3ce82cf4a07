// The drift core with plain values: stored workloads reduced to what the decision reads, their
// verdicts through the same decide() as admission (validation only), the namespace's PolicyReport,
// and which workloads a cluster change affects.
import t from 'tap'
import { defaultPolicy } from '../../src/policy/defaults.js'
import type { Facts } from '../../src/domain/facts.js'
import { WORKLOAD_KINDS, summarizeWorkload, type StoredWorkload, type WorkloadKind } from '../../src/drift/stored-workload.js'
import { evaluate, verdictFingerprint } from '../../src/drift/evaluate.js'
import { buildReport, reportContent } from '../../src/drift/report.js'
import { affectedKeys, isAffected } from '../../src/drift/affected.js'
import { SEED_RCS, cluster, imagesOf, linux, wasm } from '../helpers/facts.js'

const SPIN = 'registry.example/app/spin-hello:v1'
const NGINX = 'docker.io/library/nginx:1.27'
const kindOf = (k: string): WorkloadKind => WORKLOAD_KINDS.find((w) => w.gvk.kind === k)!

const withSpinNodes = cluster({ runtimeClasses: SEED_RCS, eligible: { wasm1: 4, 'spin-test': 2, crun: 6 }, namespaces: { offns: { 'wasm-admission.io/mode': 'off' }, warnns: { 'wasm-admission.io/mode': 'warn' } } })
const noSpinNodes = cluster({ runtimeClasses: SEED_RCS, eligible: { wasm1: 4, 'spin-test': 0, crun: 6 }, namespaces: { offns: { 'wasm-admission.io/mode': 'off' }, warnns: { 'wasm-admission.io/mode': 'warn' } } })
const noSpinClass = cluster({ runtimeClasses: SEED_RCS.filter((r) => r.name !== 'spin-test'), eligible: { wasm1: 4, crun: 6 } })
const facts = (c: Facts['cluster']): Facts => ({ images: imagesOf(wasm(SPIN, 'spin'), linux(NGINX)), cluster: c })

function deploymentObj(name: string, image: string, extra: Record<string, unknown> = {}, ns = 'apps') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, uid: `uid-${name}`, managedFields: [{ big: 'x'.repeat(1000) }] },
    spec: { replicas: 3, selector: {}, template: { metadata: { labels: { app: name }, annotations: { a: 'b' } }, spec: { containers: [{ name: 'app', image, env: [{ name: 'X', value: 'y' }], resources: {} }], ...extra } } },
    status: { replicas: 3 },
  }
}
const stored = (obj: unknown, kind = 'Deployment'): StoredWorkload => summarizeWorkload(kindOf(kind), obj)!

t.test('summaries keep only what the decision reads', async (t) => {
  const w = stored(deploymentObj('web', SPIN, { runtimeClassName: 'spin-test', nodeSelector: { a: 'b' }, tolerations: [{ key: 'k', operator: 'Exists' }], serviceAccountName: 'sa', volumes: [{ name: 'v' }] }))
  t.equal(w.key, 'Deployment/apps/web')
  t.equal(w.uid, 'uid-web')
  t.same(w.template.spec, { containers: [{ name: 'app', image: SPIN }], runtimeClassName: 'spin-test', nodeSelector: { a: 'b' }, tolerations: [{ key: 'k', operator: 'Exists' }], serviceAccountName: 'sa' })
  t.same(w.template.metadata, { annotations: { a: 'b' } })
  t.notOk(JSON.stringify(w).includes('managedFields'), 'metadata of the object is not kept')
  t.notOk(JSON.stringify(w).includes('env'), 'container fields other than name, image, command are dropped')
})

const OWNER_API: Record<string, string> = { Deployment: 'apps/v1', ReplicaSet: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', CronJob: 'batch/v1', Job: 'batch/v1', ReplicationController: 'v1' }

t.test('objects judged through their owner are skipped', async (t) => {
  const owned = (kind: string, ownerKind: string, controller = true, apiVersion = OWNER_API[ownerKind] ?? 'example.com/v1') => ({
    kind,
    metadata: { name: 'x', namespace: 'n', ownerReferences: [{ apiVersion, kind: ownerKind, name: 'o', controller }] },
    spec: kind === 'Pod' ? { containers: [{ name: 'c', image: NGINX }] } : { template: { spec: { containers: [{ name: 'c', image: NGINX }] } } },
  })
  t.equal(summarizeWorkload(kindOf('ReplicaSet'), owned('ReplicaSet', 'Deployment')), undefined, 'ReplicaSet of a Deployment')
  t.ok(summarizeWorkload(kindOf('ReplicaSet'), owned('ReplicaSet', 'Rollout')), 'ReplicaSet owned by another kind (an Argo Rollout) is kept')
  t.ok(summarizeWorkload(kindOf('ReplicaSet'), owned('ReplicaSet', 'Deployment', true, 'example.com/v1')), 'a Deployment of another API group is another kind')
  t.equal(summarizeWorkload(kindOf('Job'), owned('Job', 'CronJob')), undefined, 'Job of a CronJob')
  t.ok(summarizeWorkload(kindOf('Job'), owned('Job', 'CronJob', false)), 'a non-controller owner does not count')
  for (const owner of ['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']) {
    t.equal(summarizeWorkload(kindOf('Pod'), owned('Pod', owner)), undefined, `Pod of a ${owner}: judged through its owner`)
  }
  // Their owners are not watched: skipping them would leave them unjudged.
  t.ok(summarizeWorkload(kindOf('Pod'), owned('Pod', 'ReplicationController')), 'Pod of a ReplicationController is judged as itself')
  t.ok(summarizeWorkload(kindOf('Pod'), owned('Pod', 'MyOperatorKind')), 'Pod of a custom controller is judged as itself')
  t.ok(summarizeWorkload(kindOf('Pod'), owned('Pod', 'ReplicaSet', false)), 'bare Pod')
  const cj = summarizeWorkload(kindOf('CronJob'), { kind: 'CronJob', metadata: { name: 'c', namespace: 'n' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: SPIN }] } } } } } })!
  t.same(cj.template.spec, { containers: [{ name: 'c', image: SPIN }] })
  t.same(cj.template.specPath, ['spec', 'jobTemplate', 'spec', 'template', 'spec'])
  t.equal(summarizeWorkload(kindOf('Deployment'), { metadata: { name: 'x' } }), undefined, 'no template')
  t.equal(summarizeWorkload(kindOf('Deployment'), 'nonsense'), undefined)
})

t.test('evaluate: the same decide() as admission, validation only', async (t) => {
  const policy = defaultPolicy()
  // Stored without runtimeClassName: judged as the pods it creates, after the mutation they get.
  const plain = stored(deploymentObj('spin', SPIN))
  const ok = evaluate(plain, facts(withSpinNodes), policy)
  t.equal(ok.result, 'pass')
  t.equal(ok.wasm, true)
  t.same(ok.violations, [])
  const broken = evaluate(plain, facts(noSpinNodes), policy)
  t.equal(broken.result, 'fail')
  t.equal(broken.wouldDeny, true)
  t.same(broken.violations.map((v) => v.rule), ['no-eligible-node'])
  t.match(broken.violations[0]!.message, /0\/6 nodes can run RuntimeClass spin-test \(handler spin\): 6 lack the spin shim; fix: /)
  t.same(plain.template.spec, { containers: [{ name: 'app', image: SPIN }] }, 'the stored template is never mutated')

  const named = stored(deploymentObj('named', SPIN, { runtimeClassName: 'spin-test' }))
  const gone = evaluate(named, facts(noSpinClass), policy)
  t.same(gone.violations.map((v) => v.rule), ['runtime-class-missing'])

  const web = evaluate(stored(deploymentObj('web', NGINX)), facts(noSpinNodes), policy)
  t.equal(web.result, 'pass')
  t.equal(web.wasm, false)

  const warn = evaluate(stored(deploymentObj('spin', SPIN, {}, 'warnns')), facts(noSpinNodes), policy)
  t.equal(warn.result, 'fail', 'a violation is a failing result whatever the mode')
  t.equal(warn.wouldDeny, false, 'but warn mode would not deny it')
  t.equal(warn.mode, 'warn')
  const off = evaluate(stored(deploymentObj('spin', SPIN, {}, 'offns')), facts(noSpinNodes), policy)
  t.equal(off.result, 'skip')

  t.not(verdictFingerprint(ok), verdictFingerprint(broken))
  t.equal(verdictFingerprint(broken), verdictFingerprint(evaluate(plain, facts(noSpinNodes), policy)), 'same facts, same fingerprint')
  const fewerNodes = cluster({ runtimeClasses: SEED_RCS, eligible: { wasm1: 4, 'spin-test': 0, crun: 6 }, totalNodes: 5 })
  const counted = evaluate(plain, facts(fewerNodes), policy)
  t.not(counted.violations[0]!.message, broken.violations[0]!.message)
  t.equal(verdictFingerprint(counted), verdictFingerprint(broken), 'a message whose counts change is nothing new to announce')
  t.not(verdictFingerprint(gone), verdictFingerprint(broken), 'another rule is')
})

t.test('the namespace report', async (t) => {
  const policy = defaultPolicy()
  const ws = [stored(deploymentObj('b-spin', SPIN)), stored(deploymentObj('a-spin', SPIN)), stored(deploymentObj('web', NGINX)), stored(deploymentObj('other', SPIN, {}, 'elsewhere'))]
  const verdicts = ws.map((w) => evaluate(w, facts(noSpinNodes), policy))
  const r = buildReport('apps', verdicts)
  t.equal(r.apiVersion, 'wgpolicyk8s.io/v1alpha2')
  t.equal(r.kind, 'PolicyReport')
  t.same(r.metadata, { name: 'wasm-admission', namespace: 'apps', labels: { 'app.kubernetes.io/managed-by': 'wasm-admission' } })
  t.same(r.summary, { pass: 1, fail: 2, warn: 0, error: 0, skip: 0 }, 'only this namespace is counted')
  t.same(r.results.map((x) => x.resources[0]!.name), ['a-spin', 'b-spin'], 'sorted, failing workloads only')
  t.same(r.results[0]!.resources[0], { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'a-spin', uid: 'uid-a-spin' })
  t.equal(r.results[0]!.rule, 'no-eligible-node')
  t.equal(r.results[0]!.severity, 'high')
  t.match(r.results[0]!.message, 'lack the spin shim')
  t.equal(reportContent(r), reportContent(buildReport('apps', [...verdicts].reverse())), 'order of verdicts does not matter')
  const healed = buildReport('apps', ws.map((w) => evaluate(w, facts(withSpinNodes), policy)))
  t.same(healed.results, [])
  t.same(healed.summary, { pass: 3, fail: 0, warn: 0, error: 0, skip: 0 })
  t.not(reportContent(healed), reportContent(r))
  t.equal(reportContent(JSON.parse(JSON.stringify(r))), reportContent(r), 'a report read back from the apiserver compares equal')
})

t.test('which workloads a change affects', async (t) => {
  const w = (key: string, ns: string, rc: string | undefined, wasmImage: boolean | undefined) => ({
    workload: { key, namespace: ns, template: { spec: rc ? { runtimeClassName: rc } : {}, metadata: {}, specPath: [], metadataPath: [] } },
    wasm: wasmImage,
  })
  const all = [w('spin', 'a', undefined, true), w('named', 'a', 'gvisor', false), w('web', 'b', undefined, false), w('new', 'b', undefined, undefined)]
  t.same(affectedKeys([{ kind: 'Node', name: 'n1' }], all), ['spin', 'named', 'new'], 'node: Wasm, not yet evaluated, and RuntimeClass users')
  t.same(affectedKeys([{ kind: 'RuntimeClass', name: 'gvisor' }], all), ['spin', 'named', 'new'])
  t.same(affectedKeys([{ kind: 'RuntimeClass', name: 'other' }], all), ['spin', 'new'], 'a class it does not name leaves a Linux workload alone')
  t.same(affectedKeys([{ kind: 'RuntimeClass', name: '*' }], all), ['spin', 'named', 'new'])
  t.same(affectedKeys([{ kind: 'Namespace', name: 'b' }], all), ['web', 'new'])
  t.same(affectedKeys([{ kind: 'Namespace', name: '*' }], all), ['spin', 'named', 'web', 'new'])
  t.same(affectedKeys([], all), [])
  t.notOk(isAffected({ kind: 'Node', name: 'x' }, w('web', 'b', undefined, false)), 'a Linux workload without RuntimeClass ignores nodes')
})
