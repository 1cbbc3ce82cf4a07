// Shared by the end-to-end tests (test/e2e/*.test.ts). Not a test file itself.
import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import { distIsStale, e2eMissing, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'

/**
 * Skip reason when the real parts are not built, or false. A missing dist/ build is always a failure
 * (the test command builds first); missing tools are a failure under WASM_ADMISSION_REQUIRE_CLUSTER=1.
 */
export function e2eSkip(t: Test): string | false {
  const missing = e2eMissing()
  if (!missing) {
    if (distIsStale()) t.comment('note: dist/ is older than src/: the webhook under test is the last build (npm run build)')
    return false
  }
  if (missing.includes('npm run build') || process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1') {
    t.fail(`end-to-end environment unavailable: ${missing}`)
    return false
  }
  return missing
}

/** The pods of a Deployment (by its app label), once there are exactly `n`. */
export async function waitForPods(env: E2EEnv, namespace: string, app: string, n: number): Promise<K8sObject[]> {
  return waitFor(`${n} pods of ${namespace}/${app}`, async () => {
    const pods = (await env.list('pods', namespace, `app=${app}`)).filter((p) => !p.metadata.deletionTimestamp)
    return pods.length === n ? pods : undefined
  }, 90_000)
}

/**
 * A pod spec without the parts that differ between two otherwise identical creations (the random
 * name of the projected ServiceAccount token volume).
 */
export function normalizedSpec(pod: K8sObject): K8sObject {
  const spec = structuredClone(pod.spec) as K8sObject
  const rename = (n: string): string => (n.startsWith('kube-api-access-') ? 'kube-api-access-*' : n)
  for (const v of spec.volumes ?? []) v.name = rename(v.name)
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) for (const m of c.volumeMounts ?? []) m.name = rename(m.name)
  return spec
}

/** Events of an object (involvedObject.name), newest last. */
export async function eventsFor(env: E2EEnv, namespace: string, name: string): Promise<K8sObject[]> {
  const items = await env.list('events', namespace)
  return items.filter((e) => e.involvedObject?.name === name)
}

/** On failure, print the tail of the webhook's and the apiserver's logs as TAP comments (before env.stop() removes them). */
export function dumpLogsOnFailure(t: Test, env: E2EEnv): void {
  t.teardown(() => {
    if (t.passing()) return
    for (const [name, file] of [['webhook', env.webhook.logFile], ['kube-apiserver', env.cp.logs['kube-apiserver']], ['kube-controller-manager', env.cp.logs['kube-controller-manager']]] as const) {
      try {
        t.comment(`--- ${name} log (tail) ${file}\n${readFileSync(file, 'utf8').split('\n').slice(-40).join('\n')}`)
      } catch {
        t.comment(`--- ${name} log unavailable (${file})`)
      }
    }
  })
}

/**
 * Reviews of one Pod the webhook logged, by endpoint (its request log: one line per review, written
 * after the answer; once the pod's create has returned, the apiserver has made every call for it).
 */
export function callsFor(env: E2EEnv, namespace: string, name: string): { mutate: number; validate: number; lines: string[] } {
  const out = { mutate: 0, validate: 0, lines: [] as string[] }
  for (const line of readFileSync(env.webhook.logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue
    const r = JSON.parse(line) as Record<string, unknown>
    if (r['kind'] !== 'Pod' || r['namespace'] !== namespace || r['name'] !== name) continue
    if (r['endpoint'] === 'mutate') out.mutate++
    if (r['endpoint'] === 'validate') out.validate++
    out.lines.push(`${String(r['endpoint'])} ${String(r['operation'])} ${String(r['decision'])}`)
  }
  return out
}
