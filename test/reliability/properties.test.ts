/**
 * Property-based tests (fast-check) of the whole review pipeline (runReview: decode -> facts ->
 * decide -> patch -> encode) over generated Pods, workloads and AdmissionReviews, with facts of
 * every kind as plain values. The patched Pod is validated against the Pod schema of the REAL
 * kube-apiserver (its OpenAPI v3 document, test/fixtures/openapi/api-v1.json, regenerated from a
 * real apiserver by ./fetch-openapi.ts when missing).
 *
 * Budget: WASM_ADMISSION_FUZZ_RUNS runs per property (default 300); e.g.
 *   WASM_ADMISSION_FUZZ_RUNS=20000 npx tap test/reliability/properties.test.ts
 * A failure prints fast-check's seed and shrunk counterexample; replay with
 * WASM_ADMISSION_FUZZ_SEED=<seed>.
 */
import t from 'tap'
import fc from 'fast-check'
import jsonpatch, { type Operation } from 'fast-json-patch'
import { Ajv } from 'ajv'
import { runReview, type PipelineDeps } from '../../src/pipeline.js'
import type { ClusterFactsSource, ImageFact, ImageFactsSource } from '../../src/domain/facts.js'
import { NoClusterFacts } from '../../src/facts/placeholders.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { MODES, MODE_LABEL, type Mode, type Policy } from '../../src/domain/policy.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { cluster, linux, SEED_RCS, unsupported, wasm } from '../helpers/facts.js'
import { ensureOpenApiFixture } from './fetch-openapi.js'
import { Ledger } from './helpers.js'
import { labelMapArb as labelMap, nodeSelectorTermArb, tolerationArb } from '../helpers/arbitraries.js'

const RUNS = Number(process.env.WASM_ADMISSION_FUZZ_RUNS ?? '300')
const SEED = process.env.WASM_ADMISSION_FUZZ_SEED !== undefined ? Number(process.env.WASM_ADMISSION_FUZZ_SEED) : undefined
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) }
/** Counts for the report: every generated input, and pods the oracle says were admitted wrongly. */
const counts = { inputs: 0, wronglyAdmitted: 0, patchesChecked: 0, schemaValidated: 0 }

// ------------------------------------------------------------------ the real apiserver's Pod schema

const openapi = await ensureOpenApiFixture()
/**
 * The apiserver's schemas do not forbid unknown fields (strict field validation happens in its
 * decoder); mirror `fieldValidation=Strict` by closing every object that lists its properties,
 * so a patch that writes a misspelt or misplaced field fails here.
 */
function closeObjects(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(closeObjects)
  if (v === null || typeof v !== 'object') return v
  const o = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([pk, pv]) => [pk, closeObjects(pv)])) : closeObjects(x)]))
  if (o['properties'] !== undefined && o['additionalProperties'] === undefined) o['additionalProperties'] = false
  return o
}
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true })
for (const f of ['int32', 'int64']) ajv.addFormat(f, { type: 'number', validate: (n: number) => Number.isInteger(n) })
for (const f of ['byte', 'date-time', 'int-or-string']) ajv.addFormat(f, true)
ajv.addSchema({ $id: 'k8s-api-v1', components: closeObjects(openapi.components) as object })
const validatePod = ajv.getSchema('k8s-api-v1#/components/schemas/io.k8s.api.core.v1.Pod')!
const validateDeployment = undefined // apps/v1 is another document: workloads are checked for patch absence instead
void validateDeployment

// ------------------------------------------------------------------ facts: a pool of every kind

const REG = 'registry.example'
const DIGEST = 'sha256:' + 'd'.repeat(64)
const POOL: ImageFact[] = [
  wasm(`${REG}/spin-scratch:v1`, 'spin', { hasEntrypoint: false }),
  wasm(`${REG}/spin-entry:v1`, 'spin'),
  wasm(`${REG}/spin-index:v1`, 'spin', { hasEntrypoint: false, pinnedImage: `${REG}/spin-index@${DIGEST}` }),
  wasm(`${REG}/wasi:v1`, 'wasi'),
  wasm(`${REG}/wasi-index:v1`, 'wasi', { pinnedImage: `${REG}/wasi-index@${DIGEST}` }),
  wasm(`${REG}/slight:v1`, 'slight', { hasEntrypoint: false }),
  wasm(`${REG}/crun:v1`, 'crun'),
  linux(`${REG}/nginx:1.27`),
  linux('busybox'),
  unsupported(`${REG}/wasmcloud-provider:v1`),
  { kind: 'unknown', image: `${REG}/down:v1`, code: 'WA_ERR_IMAGE_UNREACHABLE', reason: 'registry registry.example is unreachable: ECONNREFUSED', evidence: [] },
  { kind: 'unknown', image: '127.0.0.1:5000/internal:v1', code: 'WA_ERR_IMAGE_HOST_BLOCKED', reason: 'registry host 127.0.0.1 is loopback', evidence: [] },
  { kind: 'unknown', image: `${REG}/slow:v1`, code: 'WA_ERR_IMAGE_DEADLINE', reason: 'lookup did not finish before the admission deadline', evidence: [] },
]
const byImage = new Map(POOL.map((f) => [f.image, f]))
/** What the registry would say for a pinned reference: the same Wasm manifest, no longer an index. */
for (const f of POOL) if (f.kind === 'wasm' && f.pinnedImage) byImage.set(f.pinnedImage, { ...f, image: f.pinnedImage, pinnedImage: null })
const images: ImageFactsSource = {
  lookup: async (image) => byImage.get(image) ?? { kind: 'unknown', image, code: 'WA_ERR_IMAGE_NOT_FOUND', reason: 'not found', evidence: [] },
  readiness: () => ({ ready: true, detail: '' }),
}

const NAMESPACES = ['default', 'ns-enforce', 'ns-warn', 'ns-audit', 'ns-off', 'ns-bogus', 'not-yet-known']
const NS_LABELS: Record<string, Record<string, string>> = {
  default: {},
  'ns-enforce': { [MODE_LABEL]: 'enforce' },
  'ns-warn': { [MODE_LABEL]: 'warn' },
  'ns-audit': { [MODE_LABEL]: 'audit' },
  'ns-off': { [MODE_LABEL]: 'off' },
  'ns-bogus': { [MODE_LABEL]: 'strict' },
}

// ------------------------------------------------------------------ generators

const RC_NAMES = [...SEED_RCS.map((r) => r.name), 'no-such-class']
// Tolerations, labels and node affinity come from the generators the differential tests against the
// real kube-scheduler use (test/helpers/arbitraries.ts).
const affinityArb = fc.array(nodeSelectorTermArb(['node-a', 'node-b']), { minLength: 1, maxLength: 3 }).map((terms) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } }))
const annotationMap = fc.dictionary(fc.constantFrom('module.wasm.image/variant', 'example.com/owner', 'note'), fc.constantFrom('compat', 'compat-smart', 'team-a', 'x'), { maxKeys: 2 })
const imageArb = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...POOL.map((f) => f.image)) }, { weight: 1, arbitrary: fc.constantFrom('', 'UPPER/Invalid', 'ghcr.io/never/seen:v1') })

interface Ctr {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  ports?: Array<{ containerPort: number; protocol: string }>
  resources: Record<string, unknown>
}
const containerBody = fc.record(
  {
    image: imageArb,
    command: fc.constantFrom<string[]>(['/'], ['/app', '--serve'], ['spin', 'up']),
    args: fc.array(fc.constantFrom('--listen', '0.0.0.0:80', '-v'), { maxLength: 2 }),
    ports: fc.array(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('TCP', 'UDP') }), { maxLength: 1 }),
  },
  { requiredKeys: [] },
)
/** Containers with distinct names (the apiserver requires it: containers are a list-map by name). */
function containers(prefix: string, min: number, max: number): fc.Arbitrary<Ctr[]> {
  return fc.array(containerBody, { minLength: min, maxLength: max }).map((cs) => cs.map((c, i) => ({ name: `${prefix}${i}`, ...c, resources: {} })))
}

const specArb = fc.record(
  {
    containers: containers('c', 1, 4),
    initContainers: containers('init', 1, 2),
    runtimeClassName: fc.constantFrom(...RC_NAMES),
    tolerations: fc.array(tolerationArb, { maxLength: 3 }),
    nodeSelector: labelMap,
    affinity: affinityArb,
    serviceAccountName: fc.constantFrom('default', 'builder'),
    imagePullSecrets: fc.array(fc.record({ name: fc.constantFrom('regcred', 'other') }), { maxLength: 2 }),
    restartPolicy: fc.constantFrom('Always', 'OnFailure', 'Never'),
    priority: fc.integer({ min: 0, max: 1000 }),
  },
  { requiredKeys: ['containers'] },
)

interface Gen {
  pod: Record<string, unknown>
  namespace: string
  apiVersion: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1'
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'
  workload: boolean
  policy: Policy
  eligible: Record<string, number>
  knownCluster: boolean
  uid: string
}

const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    defaultMode: fc.constantFrom<Mode>(...MODES),
    mixedPods: fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
    onUnknownImage: fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
    linuxUnderWasmRuntimeClass: fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
    requireEligibleNode: fc.boolean(),
    spinTolerations: fc.array(tolerationArb, { maxLength: 2 }),
    spinAnnotations: annotationMap,
    wasiFixed: fc.option(fc.constantFrom('wasm1', 'no-such-class'), { nil: undefined }),
  })
  .map((p) => {
    const d = defaultPolicy()
    d.defaultMode = p.defaultMode
    d.mixedPods = p.mixedPods
    d.onUnknownImage = p.onUnknownImage
    d.linuxUnderWasmRuntimeClass = p.linuxUnderWasmRuntimeClass
    d.requireEligibleNode = p.requireEligibleNode
    d.families.spin.tolerations = p.spinTolerations as Policy['families']['spin']['tolerations']
    d.families.spin.annotations = p.spinAnnotations
    if (p.wasiFixed) d.families.wasi.runtimeClass = { name: p.wasiFixed }
    return d
  })

const genArb: fc.Arbitrary<Gen> = fc
  .record({
    spec: specArb,
    labels: labelMap,
    annotations: annotationMap,
    withAnnotations: fc.boolean(),
    namespace: fc.constantFrom(...NAMESPACES),
    apiVersion: fc.constantFrom<Gen['apiVersion']>('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'),
    operation: fc.constantFrom<Gen['operation']>('CREATE', 'CREATE', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
    workload: fc.boolean(),
    policy: policyArb,
    eligible: fc.record({ wasm1: fc.integer({ min: 0, max: 6 }), 'spin-test': fc.integer({ min: 0, max: 6 }), crun: fc.integer({ min: 0, max: 6 }), gvisor: fc.integer({ min: 0, max: 6 }) }),
    knownCluster: fc.constantFrom(true, true, true, false),
    uid: fc.uuid(),
    // half the pods are Wasm pods of one family (maybe with a Linux sidecar), so mutations happen often
    homogeneous: fc.option(fc.tuple(fc.constantFrom(...POOL.filter((f) => f.kind === 'wasm').map((f) => f.image)), fc.boolean(), fc.boolean()), { nil: undefined }),
  })
  .map((g) => {
    if (g.homogeneous) {
      const [image, sidecar, keepRc] = g.homogeneous
      g.spec.containers = g.spec.containers.map((c, i) => ({ ...c, image: sidecar && i === 1 ? `${REG}/nginx:1.27` : image }))
      if (g.spec.initContainers) g.spec.initContainers = g.spec.initContainers.map((c) => ({ ...c, image }))
      if (!keepRc) delete g.spec.runtimeClassName
    }
    const metadata: Record<string, unknown> = { name: 'p', namespace: g.namespace, labels: g.labels }
    if (g.withAnnotations) metadata['annotations'] = g.annotations
    return {
      pod: { apiVersion: 'v1', kind: 'Pod', metadata, spec: g.spec },
      namespace: g.namespace,
      apiVersion: g.apiVersion,
      operation: g.operation,
      workload: g.workload,
      policy: g.policy,
      eligible: g.eligible,
      knownCluster: g.knownCluster,
      uid: g.uid,
    }
  })

function depsFor(g: Pick<Gen, 'policy' | 'eligible' | 'knownCluster'>): PipelineDeps {
  const snapshot = cluster({ runtimeClasses: SEED_RCS, eligible: g.eligible, totalNodes: 6, namespaces: NS_LABELS })
  const clusterSource: ClusterFactsSource = g.knownCluster ? { snapshot: () => snapshot, readiness: () => ({ ready: true, detail: '' }) } : new NoClusterFacts()
  return { images, cluster: clusterSource, policy: () => g.policy, deadlineMs: 4000 }
}

function deploymentOf(pod: Record<string, unknown>): Record<string, unknown> {
  const meta = pod['metadata'] as Record<string, unknown>
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: meta['namespace'] }, spec: { replicas: 1, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' }, ...(meta['annotations'] ? { annotations: meta['annotations'] } : {}) }, spec: pod['spec'] } } }
}

function reviewBody(g: Gen, object: Record<string, unknown>, workload = false): Record<string, unknown> {
  const kind = workload ? { group: 'apps', version: 'v1', kind: 'Deployment' } : { group: '', version: 'v1', kind: 'Pod' }
  return {
    apiVersion: g.apiVersion,
    kind: 'AdmissionReview',
    request: {
      uid: g.uid,
      kind,
      resource: { group: kind.group, version: 'v1', resource: workload ? 'deployments' : 'pods' },
      namespace: g.namespace,
      operation: g.operation,
      userInfo: { username: 'fuzzer' },
      object: g.operation === 'DELETE' ? null : object,
      oldObject: g.operation === 'UPDATE' || g.operation === 'DELETE' ? object : null,
      dryRun: false,
    },
  }
}

const signal = new AbortController().signal
async function review(endpoint: 'mutate' | 'validate', body: unknown, deps: PipelineDeps): Promise<AdmissionReview> {
  counts.inputs++
  const r = await runReview(endpoint, body, deps, { signal })
  if (r.httpStatus !== 200) throw new Error(`HTTP status ${r.httpStatus}`)
  return r.review
}

function patchOf(r: AdmissionReview): Operation[] {
  const p = r.response?.patch
  if (p === undefined) return []
  return JSON.parse(Buffer.from(p, 'base64').toString('utf8')) as Operation[]
}

/** Asserts the envelope: the caller's apiVersion, the uid, allowed, and a coherent status/patch. */
function assertWellFormed(r: AdmissionReview, apiVersion: string, uid: string): void {
  const fail = (why: string): never => {
    throw new Error(`malformed answer (${why}): ${JSON.stringify(r)}`)
  }
  if (r.kind !== 'AdmissionReview') fail('kind')
  if (r.apiVersion !== apiVersion) fail('apiVersion')
  const resp = r.response
  if (!resp || typeof resp !== 'object') fail('no response')
  if (resp!.uid !== uid) fail('uid')
  if (typeof resp!.allowed !== 'boolean') fail('allowed')
  if (!resp!.allowed && (typeof resp!.status?.code !== 'number' || typeof resp!.status?.message !== 'string' || resp!.status.message === '')) fail('a denial needs a code and a message')
  if (resp!.patch !== undefined) {
    if (resp!.patchType !== 'JSONPatch') fail('patchType')
    if (!resp!.allowed) fail('patch on a denial')
    const ops = patchOf(r)
    if (!Array.isArray(ops) || ops.length === 0) fail('patch is not a non-empty array')
  }
  if (resp!.warnings !== undefined && (!Array.isArray(resp!.warnings) || resp!.warnings.some((w) => typeof w !== 'string'))) fail('warnings')
  if (JSON.stringify(JSON.parse(JSON.stringify(r))) !== JSON.stringify(r)) fail('not plain JSON')
}

function schemaErrors(pod: unknown): string {
  counts.schemaValidated++
  return validatePod(pod) ? '' : JSON.stringify(validatePod.errors?.slice(0, 5))
}

// ------------------------------------------------------------------ properties

t.test('the schema check is not vacuous: the real Pod schema rejects broken pods', async (t) => {
  const ok = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x' }] } }
  t.equal(schemaErrors(ok), '', 'a minimal pod passes')
  const broken: Array<[string, unknown]> = [
    ['no containers', { ...ok, spec: {} }],
    ['container without a name', { ...ok, spec: { containers: [{ image: 'x' }] } }],
    ['misspelt field (strict field validation)', { ...ok, spec: { ...ok.spec, runtimeClass: 'spin' } }],
    ['toleration effect outside the enum', { ...ok, spec: { ...ok.spec, tolerations: [{ key: 'k', effect: 'Sometimes' }] } }],
    ['tolerationSeconds not an integer', { ...ok, spec: { ...ok.spec, tolerations: [{ key: 'k', tolerationSeconds: 'soon' }] } }],
    ['annotation value not a string', { ...ok, metadata: { name: 'p', annotations: { a: 1 } } }],
    ['command not a list of strings', { ...ok, spec: { containers: [{ name: 'a', command: '/' }] } }],
  ]
  for (const [what, pod] of broken) t.not(schemaErrors(pod), '', what)
})

t.test('the generator only produces Pods the real apiserver schema accepts', async (t) => {
  fc.assert(
    fc.property(genArb, (g) => {
      const e = schemaErrors(g.pod)
      if (e) throw new Error(`generated pod is invalid: ${e}`)
    }),
    params,
  )
  t.pass(`${RUNS} generated pods valid against io.k8s.api.core.v1.Pod of Kubernetes ${openapi['x-wasm-admission-fetched'].kubernetes}`)
})

t.test('every answer is a well-formed AdmissionReview with the uid, in the caller apiVersion', async (t) => {
  await fc.assert(
    fc.asyncProperty(genArb, fc.constantFrom('mutate', 'validate') as fc.Arbitrary<'mutate' | 'validate'>, async (g, endpoint) => {
      const obj = g.workload ? deploymentOf(g.pod) : g.pod
      const r = await review(endpoint, reviewBody(g, obj, g.workload), depsFor(g))
      assertWellFormed(r, g.apiVersion, g.uid)
      if (g.workload && patchOf(r).length > 0) throw new Error('a workload was mutated (GitOps drift)')
    }),
    params,
  )
  t.pass('well-formed')
})

t.test('garbage bodies still get a well-formed AdmissionReview (uid when there is one)', async (t) => {
  const junk = fc.oneof(
    fc.anything({ maxDepth: 4 }),
    fc.record({ apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1', 'v1', 7), kind: fc.constantFrom('AdmissionReview', 'Pod', null), request: fc.anything({ maxDepth: 3 }) }),
    fc.record({ apiVersion: fc.constant('admission.k8s.io/v1'), kind: fc.constant('AdmissionReview'), request: fc.record({ uid: fc.uuid(), kind: fc.anything({ maxDepth: 2 }), operation: fc.anything({ maxDepth: 1 }), object: fc.anything({ maxDepth: 3 }), oldObject: fc.anything({ maxDepth: 2 }), namespace: fc.anything({ maxDepth: 1 }) }, { requiredKeys: ['uid'] }) }),
    genArb.map((g) => {
      // a well-formed review whose pod is mangled: containers not a list, images not strings, spec a string
      const b = reviewBody(g, g.pod) as { request: { object: Record<string, unknown> | null } }
      if (b.request.object) b.request.object['spec'] = { containers: { notalist: true }, initContainers: [1, null, { image: 42 }] }
      return b
    }),
  )
  await fc.assert(
    fc.asyncProperty(junk, fc.constantFrom('mutate', 'validate') as fc.Arbitrary<'mutate' | 'validate'>, async (body, endpoint) => {
      const r = await review(endpoint, body, depsFor({ policy: defaultPolicy(), eligible: {}, knownCluster: true }))
      const b = body as Record<string, unknown> | null
      const apiVersion = b && typeof b === 'object' && (b['apiVersion'] === 'admission.k8s.io/v1beta1' || b['apiVersion'] === 'admission.k8s.io/v1') ? (b['apiVersion'] as string) : 'admission.k8s.io/v1'
      const req = b && typeof b === 'object' ? (b['request'] as Record<string, unknown> | undefined) : undefined
      const uid = req && typeof req === 'object' && typeof req['uid'] === 'string' ? req['uid'] : ''
      assertWellFormed(r, apiVersion, uid)
    }),
    params,
  )
  t.pass('garbage answered')
})

t.test('the patch applies to the input, the patched Pod passes the apiserver schema, and a second admission adds nothing', async (t) => {
  let mutated = 0
  await fc.assert(
    fc.asyncProperty(genArb, async (g0) => {
      const g = { ...g0, operation: 'CREATE' as const, workload: false }
      const deps = depsFor(g)
      const r = await review('mutate', reviewBody(g, g.pod), deps)
      assertWellFormed(r, g.apiVersion, g.uid)
      const ops = patchOf(r)
      if (ops.length === 0) return
      mutated++
      counts.patchesChecked++
      // validateOperation=true: every op is checked against the document (paths exist, values defined)
      const patched = jsonpatch.applyPatch(structuredClone(g.pod), ops, true, false).newDocument as Record<string, unknown>
      const e = schemaErrors(patched)
      if (e) throw new Error(`patched pod fails the Pod schema: ${e}\npatch: ${JSON.stringify(ops)}`)
      const again = await review('mutate', reviewBody({ ...g, uid: g.uid + '-2' }, patched), deps)
      if (patchOf(again).length > 0) throw new Error(`second admission patched again: ${JSON.stringify(patchOf(again))} after ${JSON.stringify(ops)}`)
    }),
    params,
  )
  t.ok(mutated > 0, `${mutated} of ${RUNS} generated pods were mutated (the property was exercised)`)
})

function permute<T>(xs: T[], order: number[]): T[] {
  return order.map((i) => xs[i]!)
}
function orderArb(n: number): fc.Arbitrary<number[]> {
  return fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n })
}
function rulesOf(r: AdmissionReview): string {
  const v = r.response?.auditAnnotations?.['violations'] ?? ''
  return v.split(',').filter(Boolean).sort().join(',')
}
function sortLists(pod: Record<string, unknown>): unknown {
  const p = structuredClone(pod) as { spec: Record<string, unknown> }
  for (const l of ['containers', 'initContainers']) {
    const xs = p.spec[l]
    if (Array.isArray(xs)) (xs as Ctr[]).sort((a, b) => a.name.localeCompare(b.name))
  }
  return p
}

t.test('the verdict and the mutation do not depend on container order', async (t) => {
  const withOrders = genArb.chain((g) => {
    const spec = g.pod['spec'] as { containers: Ctr[]; initContainers?: Ctr[] }
    return fc.tuple(fc.constant(g), orderArb(spec.containers.length), orderArb(spec.initContainers?.length ?? 0))
  })
  await fc.assert(
    fc.asyncProperty(withOrders, fc.constantFrom('mutate', 'validate') as fc.Arbitrary<'mutate' | 'validate'>, async ([g, co, io], endpoint) => {
      const spec = g.pod['spec'] as { containers: Ctr[]; initContainers?: Ctr[] }
      const shuffled = structuredClone(g.pod) as { spec: { containers: Ctr[]; initContainers?: Ctr[] } }
      shuffled.spec.containers = permute(spec.containers, co)
      if (spec.initContainers) shuffled.spec.initContainers = permute(spec.initContainers, io)
      const deps = depsFor(g)
      const gg = { ...g, workload: false }
      const a = await review(endpoint, reviewBody(gg, g.pod), deps)
      const b = await review(endpoint, reviewBody(gg, shuffled as unknown as Record<string, unknown>), deps)
      if (a.response!.allowed !== b.response!.allowed) throw new Error(`allowed differs: ${a.response!.allowed} vs ${b.response!.allowed}`)
      if (rulesOf(a) !== rulesOf(b)) throw new Error(`violated rules differ: ${rulesOf(a)} vs ${rulesOf(b)}`)
      const pa = jsonpatch.applyPatch(structuredClone(g.pod), patchOf(a), true, false).newDocument as Record<string, unknown>
      const pb = jsonpatch.applyPatch(structuredClone(shuffled), patchOf(b), true, false).newDocument as Record<string, unknown>
      const x = JSON.stringify(sortLists(pa))
      const y = JSON.stringify(sortLists(pb))
      // tolerations are appended in policy order, never container order: compare whole pods
      if (x !== y) throw new Error(`patched pods differ beyond order:\n${x}\n${y}`)
    }),
    params,
  )
  t.pass('order independent')
})

/**
 * Oracle: an enforce-mode validation must deny what the policy says is wrong. Counts "pods admitted
 * wrongly" (must be 0) for the closing note.
 */
t.test('oracle: enforce mode never admits a pod the policy forbids', async (t) => {
  let denied = 0
  await fc.assert(
    fc.asyncProperty(genArb, async (g0) => {
      const g = { ...g0, operation: 'CREATE' as const, namespace: 'ns-enforce', knownCluster: true, workload: false }
      const deps = depsFor(g)
      // the pod as stored: mutation first (as the apiserver does), then validation
      const m = await review('mutate', reviewBody(g, g.pod), deps)
      const pod = jsonpatch.applyPatch(structuredClone(g.pod), patchOf(m), true, false).newDocument as { spec: { containers: Ctr[]; initContainers?: Ctr[]; runtimeClassName?: string } }
      const v = await review('validate', reviewBody(g, pod as unknown as Record<string, unknown>), deps)
      const facts = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => byImage.get(c.image ?? '') ?? { kind: 'unknown' as const })
      const wasmFacts = facts.filter((f) => f.kind === 'wasm')
      const rc = SEED_RCS.find((r) => r.name === pod.spec.runtimeClassName)
      // A Wasm-only handler: crun is an ordinary OCI runtime that runs Linux images natively (its Wasm
      // handler only for the module.wasm.image/variant annotation: containers/crun
      // src/libcrun/handlers/handler-utils.c), so a Linux image under a crun class is not forbidden.
      const wasmHandler = rc !== undefined && Object.entries(g.policy.families).some(([name, f]) => name !== 'crun' && f.handlers.includes(rc.handler))
      const forbidden: string[] = []
      if (facts.some((f) => f.kind === 'unsupported')) forbidden.push('unsupported artifact')
      if (wasmFacts.length > 0 && !pod.spec.runtimeClassName) forbidden.push('Wasm image without runtimeClassName')
      if (new Set(wasmFacts.map((f) => (f.kind === 'wasm' ? f.runtime : ''))).size > 1) forbidden.push('mixed runtimes')
      if (g.policy.onUnknownImage === 'deny' && facts.some((f) => f.kind === 'unknown')) forbidden.push('unknown image with onUnknownImage deny')
      if (pod.spec.runtimeClassName && !rc && facts.some((f) => f.kind === 'wasm' || f.kind === 'linux')) forbidden.push('missing RuntimeClass')
      if (wasmFacts.length === 0 && wasmHandler && g.policy.linuxUnderWasmRuntimeClass === 'deny' && facts.some((f) => f.kind === 'linux')) forbidden.push('Linux under a Wasm RuntimeClass')
      if (forbidden.length > 0 && v.response!.allowed) {
        counts.wronglyAdmitted++
        throw new Error(`admitted although ${forbidden.join(', ')}: ${JSON.stringify(pod.spec)}`)
      }
      if (!v.response!.allowed) denied++
    }),
    params,
  )
  t.equal(counts.wronglyAdmitted, 0, 'pods admitted wrongly')
  t.ok(denied > 0, `${denied} denials seen (the oracle was exercised)`)
})

t.teardown(() => {
  // one line for the closing note of issue 8
  const ledger = new Ledger('properties')
  ledger.add('runsPerProperty', RUNS)
  ledger.add('inputs', counts.inputs)
  ledger.add('patchesChecked', counts.patchesChecked)
  ledger.add('schemaValidated', counts.schemaValidated)
  ledger.add('wronglyAdmitted', counts.wronglyAdmitted)
  ledger.flush()
})
