/**
 * Differential test: the mutation as a fixed point of the REAL RuntimeClass admission plugin (the
 * kube-apiserver of test/harness/versions.env is the oracle; a disagreement is a bug in the project).
 *
 * For each generated case, a RuntimeClass `rc-fp` (handler crun; `scheduling` absent, empty, or a
 * nodeSelector and tolerations from the scheduler differential's arbitraries; `overhead` or not) and
 * two crun (WASI) pods with the same generated tolerations, nodeSelector and, sometimes, their own
 * overhead (the class's, the class's quantities spelt otherwise, or another):
 *  - `mut-N` names no RuntimeClass: wasm-admission injects rc-fp (policy families.crun.runtimeClass)
 *    and, in the same patch, what the plugin would add (src/policy/runtime-class-plugin.ts);
 *  - `twin-N` names rc-fp itself: the plugin alone merges the class in the apiserver's first pass.
 * Asserted: both are admitted, or both rejected for the plugin's same reason (a nodeSelector
 * conflict, an overhead that does not match the class's); when
 * admitted, the two pods' tolerations, nodeSelector and overhead are equal (the mutation merged
 * exactly as the plugin merges), and the apiserver called the webhook exactly twice for mut-N (one
 * /mutate, one /validate: the plugin's re-run after the patch found nothing to change, so the
 * IfNeeded webhook was not reinvoked). The namespace is in warn mode (mutated, never denied), so that a class without a
 * schedulable node is a warning, not a denial.
 *
 * Budget WASM_ADMISSION_FP_CASES (default 25). The seed is printed; replay with
 * WASM_ADMISSION_FUZZ_SEED=<seed>.
 */
import t from 'tap'
import fc from 'fast-check'
import { podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { LABEL_KEYS, LABEL_VALUES, tolerationArb, runtimeClassSchedulingArb } from '../helpers/arbitraries.js'
import type { Toleration } from '../../src/domain/kube.js'
import { callsFor, dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'fixed-point'
const RC = 'rc-fp'
const CASES = Number(process.env.WASM_ADMISSION_FP_CASES ?? '25')
const SEED = process.env.WASM_ADMISSION_FUZZ_SEED !== undefined ? Number(process.env.WASM_ADMISSION_FUZZ_SEED) : Date.now() % 2 ** 31

interface Case {
  /** undefined: no scheduling object; {} and the rest as generated. */
  scheduling: { nodeSelector?: Record<string, string>; tolerations?: Toleration[] } | undefined
  overhead: Record<string, string> | undefined
  podTolerations: Toleration[]
  podNodeSelector: Record<string, string>
  /** The pod's own overhead: none, the class's (as written, or the same quantities spelt otherwise), or another. */
  podOverhead: 'none' | 'same' | 'same-respelt' | 'other'
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  scheduling: fc.oneof(
    fc.constant(undefined),
    fc.constant({}),
    runtimeClassSchedulingArb.map((s) => ({ ...(Object.keys(s.nodeSelector).length > 0 ? { nodeSelector: s.nodeSelector } : {}), ...(s.tolerations.length > 0 ? { tolerations: s.tolerations } : {}) })),
  ),
  overhead: fc.option(fc.constantFrom<Record<string, string>>({ cpu: '10m' }, { cpu: '50m', memory: '32Mi' }), { nil: undefined }),
  // Up to 4 of the pod's own, often covering one another (the plugin's merge drops the covered ones).
  podTolerations: fc.array(tolerationArb, { maxLength: 4 }),
  podNodeSelector: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 }),
  podOverhead: fc.constantFrom<Case['podOverhead']>('none', 'none', 'none', 'same', 'same-respelt', 'other'),
})

/** The same quantities, written another way ('50m' -> '0.05', '32Mi' -> '33554432'). */
const RESPELT: Record<string, string> = { '10m': '0.01', '50m': '0.05', '32Mi': '33554432' }

function podOverheadOf(c: Case): Record<string, string> | undefined {
  const own = c.overhead ?? { cpu: '10m' }
  if (c.podOverhead === 'same') return own
  if (c.podOverhead === 'same-respelt') return Object.fromEntries(Object.entries(own).map(([k, v]) => [k, RESPELT[v] ?? v]))
  if (c.podOverhead === 'other') return { cpu: '20m' }
  return undefined
}

/** The sum of the webhook's RuntimeClass watch events (its informer has seen a change once it grows). */
async function rcEvents(env: E2EEnv): Promise<number> {
  let sum = 0
  for (const m of (await env.webhook.metrics()).matchAll(/^wasm_admission_informer_events_total\{[^}]*kind="runtimeclasses"[^}]*\} (\S+)$/gm)) sum += Number(m[1])
  return sum
}

function wasiPod(env: E2EEnv, name: string, c: Case, runtimeClassName?: string): K8sObject {
  const p = podObject(name, env.samples['crun-annotated'].ref, runtimeClassName ? { runtimeClassName } : {})
  if (c.podTolerations.length > 0) p.spec.tolerations = c.podTolerations
  if (Object.keys(c.podNodeSelector).length > 0) p.spec.nodeSelector = c.podNodeSelector
  const overhead = podOverheadOf(c)
  if (overhead) p.spec.overhead = overhead
  return p
}

/** The RuntimeClass plugin's own words in a kubectl error (a nodeSelector conflict or an overhead mismatch). */
const pluginReason = (stderr: string): string => /(conflict: runtimeClass\.scheduling\.nodeSelector\[[^\]]*\] = \S+|pod rejected: [^\n]*)/.exec(stderr)?.[1] ?? `(no RuntimeClass plugin reason in: ${stderr.trim()})`

const placement = (p: K8sObject) => ({ tolerations: p.spec.tolerations ?? [], nodeSelector: p.spec.nodeSelector ?? {}, overhead: p.spec.overhead ?? null })

t.test('the mutation is a fixed point of the real RuntimeClass plugin', { skip, timeout: 900_000 }, async (t) => {
  t.comment(`seed ${SEED}, ${CASES} cases (replay: WASM_ADMISSION_FUZZ_SEED=${SEED})`)
  const cases = fc.sample(caseArb, { numRuns: CASES, seed: SEED })
  const env: E2EEnv = await startE2EEnv({ samples: ['crun-annotated'], policy: { families: { crun: { runtimeClass: RC } } } })
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  await env.createNamespace(NS, { 'wasm-admission.io/mode': 'warn' })

  for (const [i, c] of cases.entries()) {
    const rc: K8sObject = { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: RC }, handler: 'crun' }
    if (c.scheduling !== undefined) rc.scheduling = c.scheduling
    if (c.overhead !== undefined) rc.overhead = { podFixed: c.overhead }
    const label = `case ${i}: RuntimeClass ${JSON.stringify({ scheduling: rc.scheduling ?? null, overhead: rc.overhead ?? null })}, pod ${JSON.stringify({ tolerations: c.podTolerations, nodeSelector: c.podNodeSelector, overhead: podOverheadOf(c) ?? null })}`
    // Replace the class; its next version is in the webhook's cache once both watch events arrived.
    const before = await rcEvents(env)
    const deleted = (await env.kubectl(['delete', 'runtimeclass', RC, '--ignore-not-found', '-o', 'name'])).stdout.trim() !== ''
    await env.apply(rc, { verb: 'create' })
    await waitFor(`the webhook to see ${RC} of case ${i}`, async () => (await rcEvents(env)) >= before + (deleted ? 2 : 1), 60_000)

    const twin = await env.apply(wasiPod(env, `twin-${i}`, c, RC), { namespace: NS, verb: 'create', allowFailure: true })
    const mut = await env.apply(wasiPod(env, `mut-${i}`, c), { namespace: NS, verb: 'create', allowFailure: true })
    if (twin.code !== 0) {
      t.not(mut.code, 0, `${label}: the plugin rejects the twin (${twin.stderr.trim()}), so it must reject the mutated pod too`)
      t.equal(pluginReason(mut.stderr), pluginReason(twin.stderr), `${label}: for the same reason`)
      continue
    }
    t.equal(mut.code, 0, `${label}: admitted like its twin (${mut.stderr.trim()})`)
    if (mut.code !== 0) continue
    const [p, tw] = [await env.get('pod', `mut-${i}`, NS), await env.get('pod', `twin-${i}`, NS)]
    t.equal(p.spec.runtimeClassName, RC, `${label}: the class injected`)
    t.same(placement(p), placement(tw), `${label}: merged exactly as the plugin merges`)
    const calls = callsFor(env, NS, `mut-${i}`)
    t.same({ mutate: calls.mutate, validate: calls.validate }, { mutate: 1, validate: 1 }, `${label}: 2 webhook calls (${calls.lines.join(', ')})`)
  }
  const admitted = (await env.list('pods', NS)).filter((p) => p.metadata.name.startsWith('mut-')).length
  t.comment(`${admitted} of ${cases.length} cases admitted, the rest refused by the plugin (nodeSelector conflicts, overhead mismatches)`)
  t.ok(admitted > 0, 'some cases were admitted')
})
