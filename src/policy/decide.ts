/**
 * decide(): the whole admission decision as a pure function of (subject, facts, policy).
 * No I/O, clock, logger or environment: everything it needs arrives as arguments.
 */
import type { Endpoint } from '../domain/endpoint.js'
import type { ClusterFacts, Facts, ImageFact, RuntimeFamily, WasmImageFact } from '../domain/facts.js'
import { DAEMONSET_TOLERATIONS, type GroupVersionKind, type NodeSelectorTerm, type Operation, type PodScheduling, type Toleration } from '../domain/kube.js'
import { containersOf, stringMap, type ContainerRef, type PodTemplate } from '../domain/workload.js'
import { applyMutations, missingTolerations, type Mutation } from '../domain/mutations.js'
import { MODE_LABEL, MODES, type FamilyPolicy, type Mode, type Policy } from '../domain/policy.js'
import { runtimeClassAdditions } from './runtime-class-plugin.js'
import { HANDLER_TABLE, IMAGE_KINDS, canRun, familiesRunning } from '../domain/handler-table.js'
import { fixForEligibility } from './eligibility-fix.js'

/** What is being admitted, already decoded. */
export interface Subject {
  endpoint: Endpoint
  operation: Operation
  kind: GroupVersionKind
  namespace: string
  /** True for Pods; false for workload kinds whose pod template is reviewed (never mutated). */
  isPod: boolean
  template: PodTemplate
  oldTemplate?: PodTemplate | undefined
}

export interface Violation {
  /** Stable rule id, used in metrics and audit annotations. */
  rule: 'unsupported-artifact' | 'mixed-runtimes' | 'mixed-pod' | 'no-runtime-class' | 'runtime-class-missing' | 'wrong-handler' | 'no-eligible-node' | 'daemonset-placement' | 'linux-under-wasm' | 'unpinned-index' | 'unknown-image'
  message: string
}

export type Outcome = 'skipped' | 'allowed' | 'mutated' | 'denied' | 'warned' | 'audited'

export interface Decision {
  mode: Mode
  outcome: Outcome
  allowed: boolean
  mutations: Mutation[]
  violations: Violation[]
  warnings: string[]
  auditAnnotations: Record<string, string>
}

// ------------------------------------------------------------------ facts about the pod

interface Analysed {
  container: ContainerRef
  fact: ImageFact
}

interface PodAnalysis {
  all: Analysed[]
  wasm: Array<Analysed & { fact: WasmImageFact }>
  linux: Analysed[]
  unsupported: Analysed[]
  unknown: Analysed[]
  families: RuntimeFamily[]
}

function factFor(images: ReadonlyMap<string, ImageFact>, image: string): ImageFact {
  return images.get(image) ?? { kind: 'unknown', image, code: 'WA_ERR_IMAGE_NOT_INSPECTED', reason: 'image was not inspected', evidence: [] }
}

function analyse(spec: Record<string, unknown>, images: ReadonlyMap<string, ImageFact>): PodAnalysis {
  const all = containersOf(spec).map((container) => ({ container, fact: factFor(images, container.image) }))
  const wasm = all.filter((a): a is Analysed & { fact: WasmImageFact } => a.fact.kind === 'wasm')
  return {
    all,
    wasm,
    linux: all.filter((a) => a.fact.kind === 'linux'),
    unsupported: all.filter((a) => a.fact.kind === 'unsupported'),
    unknown: all.filter((a) => a.fact.kind === 'unknown'),
    families: [...new Set(wasm.map((a) => a.fact.runtime))].sort(),
  }
}

export function schedulingOf(spec: Record<string, unknown>): PodScheduling {
  type Affinity = { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: unknown } } }
  const terms = (spec['affinity'] as Affinity | undefined)?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
  const scheduling: PodScheduling = {
    nodeSelector: stringMap(spec['nodeSelector']),
    requiredNodeAffinity: Array.isArray(terms) ? (terms as NodeSelectorTerm[]) : [],
    tolerations: Array.isArray(spec['tolerations']) ? (spec['tolerations'] as Toleration[]) : [],
  }
  if (typeof spec['nodeName'] === 'string' && spec['nodeName'] !== '') scheduling.nodeName = spec['nodeName']
  return scheduling
}

/** A RuntimeClass whose nodeSelector sets a key the pod already sets to another value: the apiserver would reject the pod. */
function conflictsWith(rcSelector: Record<string, string>, podSelector: Record<string, string>): string | undefined {
  for (const [k, v] of Object.entries(rcSelector)) if (k in podSelector && podSelector[k] !== v) return `${k}=${v} (the pod has ${k}=${podSelector[k]})`
  return undefined
}

export function modeOf(namespace: string, cluster: ClusterFacts, policy: Policy): Mode {
  const label = cluster.namespaceLabels(namespace)?.[MODE_LABEL]
  return (MODES as readonly string[]).includes(label ?? '') ? (label as Mode) : policy.defaultMode
}

function isWasmHandler(handler: string, policy: Policy): RuntimeFamily | undefined {
  for (const [family, fp] of Object.entries(policy.families) as Array<[RuntimeFamily, FamilyPolicy]>) {
    if (fp.handlers.includes(handler)) return family
  }
  return undefined
}

const q = JSON.stringify
const describeContainer = (a: Analysed) => `container ${q(a.container.name)} (image ${q(a.container.image)})`
const evidence = (f: ImageFact) => (f.evidence.length > 0 ? ` [${f.evidence.join('; ')}]` : '')
const handlerList = (fp: FamilyPolicy) => fp.handlers.join(', ')

// ------------------------------------------------------------------ mutation planning

interface Plan {
  mutations: Mutation[]
  /** Why no RuntimeClass could be chosen, when that happened. */
  note?: string
}

type Choice = { readonly name?: string; readonly note?: string }

/**
 * Automatic choices remembered per cluster view and policy object, keyed by family and the pod's
 * scheduling: the choice is a function of those alone, and reviews repeat (every pod of a workload,
 * every review of one shape), while computing it filters every RuntimeClass and asks the eligibility
 * of each candidate. Only for views that never change (ClusterFacts.immutable) and deeply frozen
 * policies (the PolicyStore freezes what it loads), so a remembered answer is never stale; any other
 * view or policy is answered afresh. Both WeakMaps let a replaced view or policy go with its answers.
 */
const choices = new WeakMap<ClusterFacts, WeakMap<Policy, Map<string, Choice>>>()
/** Remembered choices per (view, policy), at most (the map is cleared when full). */
const CHOICE_MEMO_LIMIT = 1024

/** Chooses the RuntimeClass for a family: the fixed one, or the best automatic candidate. */
export function chooseRuntimeClass(family: RuntimeFamily, scheduling: PodScheduling, cluster: ClusterFacts, policy: Policy): Choice {
  const fp = policy.families[family]
  if (fp.runtimeClass !== 'auto') return { name: fp.runtimeClass.name }
  if (!cluster.known) return { note: `no cluster facts to choose a RuntimeClass for ${family} automatically` }
  if (cluster.immutable !== true || !Object.isFrozen(policy)) return chooseAutomatically(family, fp, scheduling, cluster, policy)
  let perPolicy = choices.get(cluster)
  if (perPolicy === undefined) choices.set(cluster, (perPolicy = new WeakMap()))
  let memo = perPolicy.get(policy)
  if (memo === undefined) perPolicy.set(policy, (memo = new Map()))
  const key = `${family}\u0000${JSON.stringify(scheduling)}`
  let choice = memo.get(key)
  if (choice === undefined) {
    choice = chooseAutomatically(family, fp, scheduling, cluster, policy)
    if (memo.size >= CHOICE_MEMO_LIMIT) memo.clear()
    memo.set(key, choice)
  }
  return choice
}

function chooseAutomatically(family: RuntimeFamily, fp: FamilyPolicy, scheduling: PodScheduling, cluster: ClusterFacts, policy: Policy): Choice {
  const ofFamily = cluster.runtimeClasses().filter((rc) => fp.handlers.includes(rc.handler))
  if (ofFamily.length === 0) {
    return { note: `no RuntimeClass has a ${family} handler (${handlerList(fp)}); fix: create one, or name it in the policy's families.${family}.runtimeClass` }
  }
  // Injecting a class whose nodeSelector contradicts the pod's would get the pod rejected by the
  // apiserver's RuntimeClass plugin over a class the user never named.
  const candidates = ofFamily.filter((rc) => !conflictsWith(rc.nodeSelector, scheduling.nodeSelector))
  if (candidates.length === 0) {
    const why = ofFamily.map((rc) => `${rc.name} needs nodeSelector ${conflictsWith(rc.nodeSelector, scheduling.nodeSelector)}`).join('; ')
    return { note: `every RuntimeClass with a ${family} handler conflicts with the pod's nodeSelector: ${why}` }
  }
  const withTolerations: PodScheduling = { ...scheduling, tolerations: [...scheduling.tolerations, ...fp.tolerations] }
  const ranked = candidates
    .map((rc) => ({ rc, eligible: cluster.eligibility(rc.name, withTolerations, policy).eligibleNodes }))
    .sort((a, b) => b.eligible - a.eligible || a.rc.name.localeCompare(b.rc.name))
  // With no eligible node anywhere, the best candidate is still injected so validation can say precisely why.
  return { name: ranked[0]!.rc.name }
}

function planMutations(t: PodTemplate, a: PodAnalysis, cluster: ClusterFacts, policy: Policy): Plan {
  if (a.families.length !== 1 || a.unsupported.length > 0) return { mutations: [] }
  if (a.linux.length > 0 && policy.mixedPods === 'deny') return { mutations: [] }
  const family = a.families[0]!
  let using: RuntimeFamily = family
  const mutations: Mutation[] = []
  const existing = typeof t.spec['runtimeClassName'] === 'string' && t.spec['runtimeClassName'] !== '' ? (t.spec['runtimeClassName'] as string) : undefined
  let note: string | undefined
  if (existing) {
    // Never overwrite the user's choice; only complete it when its handler runs these images
    // (a single-layer component under the Spin shim is completed as a spin pod).
    const info = cluster.known ? cluster.runtimeClass(existing) : undefined
    const rcFamily = info ? isWasmHandler(info.handler, policy) : family
    if (cluster.known && (!rcFamily || !a.wasm.every((w) => canRun(rcFamily, w.fact.packaging)))) return { mutations: [] }
    if (rcFamily) using = rcFamily
  } else {
    const chosen = chooseRuntimeClass(family, schedulingOf(t.spec), cluster, policy)
    if (!chosen.name) return { mutations: [], ...(chosen.note ? { note: chosen.note } : {}) }
    mutations.push({ type: 'runtimeClassName', name: chosen.name })
    note = chosen.note
  }
  const fp = policy.families[using]
  // (Most policies add no toleration: then there is nothing to compare.)
  const tolerations = fp.tolerations.length > 0 ? missingTolerations(schedulingOf(t.spec).tolerations, fp.tolerations) : []
  if (tolerations.length > 0) mutations.push({ type: 'tolerations', add: tolerations })
  const annotations = stringMap(t.metadata['annotations'])
  const addAnn = Object.fromEntries(Object.entries(fp.annotations).filter(([k]) => !(k in annotations)))
  if (Object.keys(addAnn).length > 0) mutations.push({ type: 'annotations', add: addAnn })
  for (const w of a.wasm) {
    const { list, index } = w.container
    // Nodes pull for their own platform: an index would give them the Linux variant, or nothing.
    if (w.fact.pinnedImage && w.fact.pinnedImage !== w.container.image) mutations.push({ type: 'image', list, index, image: w.fact.pinnedImage })
    // FROM-scratch Spin images have no entrypoint; the shim needs a command to create the container.
    // (The same for a single-layer component under the Spin shim: containerd-shim-spin's own wkg test
    // workload sets command ["/"], tests/workloads-pushed-using-wkg-oci-push/workloads.yaml.)
    if (using === 'spin' && !w.fact.hasEntrypoint && !w.container.hasCommand) mutations.push({ type: 'command', list, index, command: ['/'] })
  }
  const rcName = existing ?? (mutations[0]?.type === 'runtimeClassName' ? mutations[0].name : undefined)
  const rc = rcName && cluster.known && mutations.length > 0 ? cluster.runtimeClass(rcName) : undefined
  if (rc) {
    // Any change makes the apiserver re-run its RuntimeClass plugin; adding what it adds, as it
    // merges it, leaves that re-run nothing to change, so no webhook is reinvoked for it.
    const tolerationsNow = [...(Array.isArray(t.spec['tolerations']) ? (t.spec['tolerations'] as Toleration[]) : []), ...tolerations]
    const overhead = t.spec['overhead'] && typeof t.spec['overhead'] === 'object' ? (t.spec['overhead'] as Record<string, unknown>) : undefined
    const add = runtimeClassAdditions(rc, { nodeSelector: stringMap(t.spec['nodeSelector']), tolerations: tolerationsNow, overhead })
    if (add.nodeSelector || add.tolerations || add.overhead) mutations.push({ type: 'runtimeClassScheduling', runtimeClass: rc.name, ...add })
  }
  return note ? { mutations, note } : { mutations }
}

// ------------------------------------------------------------------ validation rules

function validateSpec(spec: Record<string, unknown>, a: PodAnalysis, cluster: ClusterFacts, policy: Policy, planNote: string | undefined, isDaemonSet = false): { violations: Violation[]; warnings: string[] } {
  const violations: Violation[] = []
  const warnings: string[] = []
  for (const u of a.unsupported) {
    violations.push({ rule: 'unsupported-artifact', message: `${describeContainer(u)} is a Wasm artifact that no pod can run${evidence(u.fact)}; fix: run it on its own host (wasmCloud, Envoy) or push a runnable Wasm image` })
  }
  for (const w of a.wasm) {
    // The mutating hook pins these on CREATE; validation sees one when that hook failed open, or on
    // an UPDATE (never mutated). containerd pulls an index's entry for the node's own platform: the
    // Linux entry of a mixed index, nothing at all for a Wasm-only one (docs/wasm-oci.md §3).
    if (w.fact.pinnedImage && w.fact.pinnedImage !== w.container.image) {
      violations.push({ rule: 'unpinned-index', message: `${describeContainer(w)} is an image index: a node pulls the entry for its own platform (the Linux entry of a mixed index, or nothing), never the Wasm entry${evidence(w.fact)}; fix: set the image to ${q(w.fact.pinnedImage)}` })
    }
  }
  // Which families' handlers run every Wasm image of the pod (src/domain/handler-table.ts).
  const runners = a.wasm.length > 0 ? familiesRunning([...new Set(a.wasm.map((w) => w.fact.packaging))], Object.keys(policy.families) as RuntimeFamily[]) : []
  if (a.wasm.length > 0 && runners.length === 0) {
    const parts = a.wasm.map((w) => `${q(w.container.name)} needs ${w.fact.runtime}`).join(', ')
    violations.push({ rule: 'mixed-runtimes', message: `containers need different Wasm runtimes (${parts}) but a pod has one RuntimeClass; fix: split them into separate pods` })
  }
  if (a.wasm.length > 0 && a.linux.length > 0 && policy.mixedPods === 'deny') {
    violations.push({ rule: 'mixed-pod', message: `pod mixes Wasm containers (${a.wasm.map((w) => q(w.container.name)).join(', ')}) with Linux containers (${a.linux.map((l) => q(l.container.name)).join(', ')}) and the policy forbids mixed pods; fix: move the Linux containers to another pod` })
  }
  const rcName = typeof spec['runtimeClassName'] === 'string' && spec['runtimeClassName'] !== '' ? (spec['runtimeClassName'] as string) : undefined
  const rc = rcName && cluster.known ? cluster.runtimeClass(rcName) : undefined
  if (rcName && cluster.known && !rc && (a.wasm.length > 0 || a.linux.length > 0)) {
    violations.push({ rule: 'runtime-class-missing', message: `RuntimeClass ${q(rcName)} does not exist; fix: create it (kubectl get runtimeclass lists those that do) or change runtimeClassName` })
  }
  if (runners.length > 0 && a.unsupported.length === 0) {
    const family = a.families.length === 1 ? a.families[0]! : runners[0]!
    const handlers = runners.flatMap((f) => policy.families[f].handlers).join(', ')
    const first = a.wasm[0]!
    const rcFamily = rc ? isWasmHandler(rc.handler, policy) : undefined
    if (!rcName) {
      violations.push({ rule: 'no-runtime-class', message: `${describeContainer(first)} is a ${family} Wasm image${evidence(first.fact)} but the pod has no runtimeClassName, so it would run under runc and fail; fix: set runtimeClassName to a RuntimeClass with handler ${handlers}${planNote ? ` (${planNote})` : ''}` })
    } else if (rc && (!rcFamily || !runners.includes(rcFamily))) {
      const who = a.wasm.find((w) => !rcFamily || !canRun(rcFamily, w.fact.packaging)) ?? first
      const what = rcFamily ? `${HANDLER_TABLE[rcFamily].shim}, which cannot run ${who.fact.packaging}: ${IMAGE_KINDS[who.fact.packaging]}` : 'not a Wasm handler'
      violations.push({ rule: 'wrong-handler', message: `${describeContainer(who)} needs a ${runners.join(' or ')} shim but RuntimeClass ${q(rc.name)} has handler ${q(rc.handler)} (${what}); fix: use a RuntimeClass with handler ${handlers}` })
    }
  }
  if (rc && policy.requireEligibleNode && isWasmHandler(rc.handler, policy) && violations.length === 0) {
    const who = a.wasm[0] ?? a.all[0]
    if (!isDaemonSet) {
      const e = cluster.eligibility(rc.name, schedulingOf(spec), policy)
      if (e.eligibleNodes === 0) {
        violations.push({ rule: 'no-eligible-node', message: `${who ? `${describeContainer(who)}: ` : ''}${e.message}; fix: ${fixForEligibility(e, rc)}` })
      }
    } else {
      // A DaemonSet is judged by where its controller puts pods (its own predicates and tolerations,
      // never the RuntimeClass): each targeted node without the shim would get a pod that never runs.
      // Cordoned and NotReady nodes get pods that run (the DaemonSet tolerations). A template that
      // targets no node at all runs no pod anywhere: denied like a workload whose pods fit no node.
      const scheduling = schedulingOf(spec)
      const p = cluster.placement(rc.name, scheduling, policy)
      if (p.targeted === 0) {
        const e = cluster.eligibility(rc.name, { ...scheduling, tolerations: [...scheduling.tolerations, ...DAEMONSET_TOLERATIONS] }, policy)
        const why = e.eligibleNodes === 0 ? e.message : `the DaemonSet controller targets none of the ${e.totalNodes} nodes (it ignores the RuntimeClass's tolerations)`
        violations.push({ rule: 'no-eligible-node', message: `${who ? `${describeContainer(who)}: ` : ''}${why}; this DaemonSet would run no pod; fix: ${e.eligibleNodes === 0 ? fixForEligibility(e, rc) : 'add the tolerations the nodes need to the pod template'}` })
      }
      if (p.ineligible > 0) {
        const selector = Object.entries(rc.nodeSelector).map(([k, v]) => `${k}=${v}`).join(',')
        violations.push({
          rule: 'daemonset-placement',
          message: `${who ? `${describeContainer(who)}: ` : ''}this DaemonSet targets ${p.targeted} nodes, ${p.ineligible} of which cannot run RuntimeClass ${rc.name} (handler ${rc.handler}): ${p.ineligibleNames.join(', ')}${p.ineligible > p.ineligibleNames.length ? ', ...' : ''}; the DaemonSet controller ignores the RuntimeClass when placing pods; fix: add ${selector ? `nodeSelector ${selector}` : "a nodeSelector for the shim's nodes"} to the pod template`,
        })
      }
    }
  }
  if (rc && a.wasm.length === 0 && policy.linuxUnderWasmRuntimeClass === 'deny') {
    const family = isWasmHandler(rc.handler, policy)
    // crun is an ordinary OCI runtime: Linux images are what it runs without its Wasm annotation.
    if (family && HANDLER_TABLE[family].linux !== 'native') {
      for (const l of a.linux) {
        violations.push({ rule: 'linux-under-wasm', message: `${describeContainer(l)} is a Linux image${evidence(l.fact)} but RuntimeClass ${q(rc.name)} (handler ${q(rc.handler)}) runs ${family} Wasm; fix: remove runtimeClassName or use a Wasm image` })
      }
    }
  }
  for (const u of a.unknown) {
    const text = `${describeContainer(u)} could not be inspected: ${u.fact.kind === 'unknown' ? u.fact.reason : ''}`
    if (policy.onUnknownImage === 'deny') violations.push({ rule: 'unknown-image', message: `${text}; fix: make the registry reachable, or set onUnknownImage: allow` })
    else warnings.push(`${text}; admitted without Wasm checks`)
  }
  if (!cluster.known && (a.wasm.length > 0 || rcName)) warnings.push('cluster facts unavailable: RuntimeClass and node checks were skipped')
  return { violations, warnings }
}

/** Facts for the pinned references a simulated mutation writes: the same Wasm manifest, no longer an index. */
function withPinnedImages(images: ReadonlyMap<string, ImageFact>): ReadonlyMap<string, ImageFact> {
  const out = new Map(images)
  for (const f of images.values()) {
    if (f.kind === 'wasm' && f.pinnedImage && !out.has(f.pinnedImage)) out.set(f.pinnedImage, { ...f, image: f.pinnedImage, pinnedImage: null })
  }
  return out
}

/** JSON with object keys sorted, so maps written in another order compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${q(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return v === undefined ? 'null' : q(v)
}

/** Pod annotations that switch a runtime (crun's `module.wasm.image/variant`, ...): the policy's family annotations. */
function runtimeAnnotationKeys(policy: Policy): string[] {
  return [...new Set(Object.values(policy.families).flatMap((fp) => Object.keys(fp.annotations)))].sort()
}

/**
 * Everything in a pod template that decides where its pods run and under which runtime: images,
 * runtimeClassName, nodeSelector, affinity, tolerations, nodeName and the runtime annotations.
 * A workload UPDATE that changes none of these creates pods CREATE already judged the same way.
 */
function workloadKey(t: PodTemplate, policy: Policy): string {
  const ann = stringMap(t.metadata['annotations'])
  return canonical({
    images: containersOf(t.spec).map((c) => [c.list, c.name, c.image]),
    runtimeClassName: t.spec['runtimeClassName'] ?? null,
    nodeSelector: t.spec['nodeSelector'] ?? null,
    affinity: t.spec['affinity'] ?? null,
    tolerations: t.spec['tolerations'] ?? null,
    nodeName: t.spec['nodeName'] ?? null,
    annotations: runtimeAnnotationKeys(policy).map((k) => ann[k] ?? null),
  })
}

/**
 * The same for a Pod, restricted to what a Pod UPDATE can change. The apiserver's ValidatePodUpdate
 * (pkg/apis/core/validation/validation.go, v1.36.3) allows only container and init container images,
 * activeDeadlineSeconds, terminationGracePeriodSeconds, additions to tolerations, removals of
 * schedulingGates and, while the pod still has scheduling gates, additions to nodeSelector and
 * narrowing of nodeAffinity; runtimeClassName, nodeName (set through pods/binding) and annotations
 * are immutable or irrelevant here. Tolerations, nodeSelector and affinity only matter before the
 * pod is bound: once spec.nodeName is set, they no longer move it.
 */
function podKey(t: PodTemplate, bound: boolean): string {
  const images = containersOf(t.spec).map((c) => [c.list, c.name, c.image])
  if (bound) return canonical({ images })
  return canonical({ images, nodeSelector: t.spec['nodeSelector'] ?? null, affinity: t.spec['affinity'] ?? null, tolerations: t.spec['tolerations'] ?? null })
}

/** Whether an UPDATE changes what the validation judges; without an old object, assume it does. */
export function placementOrRuntimeChanged(subject: Pick<Subject, 'isPod' | 'template' | 'oldTemplate'>, policy: Policy): boolean {
  const old = subject.oldTemplate
  if (!old) return true
  if (subject.isPod) {
    const bound = typeof old.spec['nodeName'] === 'string' && old.spec['nodeName'] !== ''
    return podKey(subject.template, bound) !== podKey(old, bound)
  }
  return workloadKey(subject.template, policy) !== workloadKey(old, policy)
}

// ------------------------------------------------------------------ the decision

function skip(mode: Mode, outcome: Outcome = 'skipped'): Decision {
  return { mode, outcome, allowed: true, mutations: [], violations: [], warnings: [], auditAnnotations: {} }
}

function describeMutations(ms: readonly Mutation[]): string {
  return ms
    .map((m) => {
      switch (m.type) {
        case 'runtimeClassName': return `runtimeClassName=${m.name}`
        case 'tolerations': return `tolerations+${m.add.length}`
        case 'annotations': return `annotations+${Object.keys(m.add).join(',')}`
        case 'image': return `${m.list}[${m.index}].image=${m.image}`
        case 'command': return `${m.list}[${m.index}].command=${JSON.stringify(m.command)}`
        case 'runtimeClassScheduling': return `scheduling of RuntimeClass ${m.runtimeClass}`
      }
    })
    .join('; ')
}

export function decide(subject: Subject, facts: Facts, policy: Policy): Decision {
  const mode = modeOf(subject.namespace, facts.cluster, policy)
  if (mode === 'off' || subject.operation === 'DELETE' || subject.operation === 'CONNECT') return skip(mode)
  const a = analyse(subject.template.spec, facts.images)

  if (subject.endpoint === 'mutate') {
    if (!subject.isPod || subject.operation !== 'CREATE') return skip(mode, 'allowed')
    const plan = planMutations(subject.template, a, facts.cluster, policy)
    if (plan.mutations.length === 0) return skip(mode, 'allowed')
    if (mode === 'audit') {
      return { ...skip(mode, 'audited'), auditAnnotations: { 'would-mutate': describeMutations(plan.mutations) } }
    }
    return { mode, outcome: 'mutated', allowed: true, mutations: plan.mutations, violations: [], warnings: [], auditAnnotations: { mutated: describeMutations(plan.mutations) } }
  }

  // An UPDATE is judged as a CREATE of the same template whenever it changes what decides
  // placement or runtime; otherwise it cannot make things worse, and is not re-judged (a scale, a
  // rollout restart, a label change never fails because the cluster changed since).
  if (subject.operation === 'UPDATE' && !placementOrRuntimeChanged(subject, policy)) return skip(mode, 'allowed')
  // Pods are validated as they are: the mutating hook has already run. Workload templates are
  // validated as the pods they will create, i.e. after the mutation those pods will get.
  let spec = subject.template.spec
  let images = facts.images
  let planNote: string | undefined
  if (!subject.isPod) {
    const plan = planMutations(subject.template, a, facts.cluster, policy)
    planNote = plan.note
    const clone = structuredClone({ spec: subject.template.spec, metadata: subject.template.metadata })
    // Not what the RuntimeClass plugin adds: eligibility already applies the class's scheduling, and
    // the DaemonSet controller places pods by the template as written, without it.
    applyMutations(clone.spec, clone.metadata, plan.mutations.filter((m) => m.type !== 'runtimeClassScheduling'))
    spec = clone.spec
    images = withPinnedImages(facts.images)
  } else if (!spec['runtimeClassName']) {
    planNote = planMutations(subject.template, a, facts.cluster, policy).note
  }
  const isDaemonSet = subject.kind.group === 'apps' && subject.kind.kind === 'DaemonSet'
  const { violations, warnings } = validateSpec(spec, analyse(spec, images), facts.cluster, policy, planNote, isDaemonSet)
  if (violations.length === 0) return { ...skip(mode, 'allowed'), warnings }
  switch (mode) {
    case 'enforce':
      return { mode, outcome: 'denied', allowed: false, mutations: [], violations, warnings, auditAnnotations: { violations: violations.map((v) => v.rule).join(',') } }
    case 'warn':
      return { mode, outcome: 'warned', allowed: true, mutations: [], violations, warnings: [...violations.map((v) => `wasm-admission (warn mode) would deny: ${v.message}`), ...warnings], auditAnnotations: { violations: violations.map((v) => v.rule).join(',') } }
    case 'audit':
      return { mode, outcome: 'audited', allowed: true, mutations: [], violations, warnings: [], auditAnnotations: { violations: violations.map((v) => v.rule).join(','), detail: violations.map((v) => v.message).join(' | ').slice(0, 2000) } }
  }
}
