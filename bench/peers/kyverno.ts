// Kyverno as a peer of wasm-admission in the bench (`scripts/bench.sh --peers kyverno`): the
// kyverno binary built by `scripts/build-tools.sh --peers kyverno` (Go module
// github.com/kyverno/kyverno, KYVERNO_VERSION of test/harness/versions.env), run out of cluster
// against the harness's kube-apiserver on loopback, its CRDs from the module's config/crds, and the
// policies of bench/peers/kyverno/*.yaml. See docs/comparison.md.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { Kube } from '../lib/kube.js'
import { freePorts, httpGet, procCpuSeconds, procMemory, spawnLogged, StopWaiting, waitFor, type Child } from '../lib/proc.js'
import { REPO_ROOT } from '../lib/webhook.js'

export const KYVERNO_POLICY_DIR = join(REPO_ROOT, 'bench/peers/kyverno')
const NAMESPACE = 'kyverno'
const MANAGED_BY = 'webhook.kyverno.io/managed-by=kyverno'
const WEBHOOK_CONFIG_PATHS = [
  '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
] as const

export interface KyvernoTools {
  kyverno: string
  crds: string
  /** Seconds `build-tools.sh --peers kyverno` took in this run (≈0 when cached; the cold build is set-up). */
  buildSeconds: number
}

/** Builds Kyverno or finds it cached (the script is a no-op when it is), and returns its paths. */
export function kyvernoTools(): KyvernoTools {
  const started = performance.now()
  const out = execFileSync('bash', [join(REPO_ROOT, 'scripts/build-tools.sh'), '--peers', 'kyverno'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const env = Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  if (!env.KYVERNO || !env.KYVERNO_CRDS) throw new Error(`build-tools.sh --peers kyverno printed no KYVERNO/KYVERNO_CRDS:\n${out}`)
  return { kyverno: env.KYVERNO, crds: env.KYVERNO_CRDS, buildSeconds: (performance.now() - started) / 1000 }
}

/** The policy documents of one file of bench/peers/kyverno/ (parsed, for POSTing). */
export function kyvernoPolicy(file: string): { path: string; obj: any; text: string } {
  const text = readFileSync(join(KYVERNO_POLICY_DIR, file), 'utf8')
  const obj = parseYaml(text) as { apiVersion: string; kind: string; metadata: { name: string } }
  if (!obj.kind.endsWith('Policy')) throw new Error(`${file}: not a Kyverno policy kind: ${obj.kind}`)
  const plural = obj.kind.toLowerCase().replace(/y$/, 'ies') // MutatingPolicy -> mutatingpolicies
  const [group, version] = obj.apiVersion.split('/') as [string, string]
  return { path: `/apis/${group}/${version}/${plural}`, obj, text }
}

export interface KyvernoProc {
  child: Child
  pid: number
  webhookPort: number
  metricsPort: number
  /** ms from spawn until its webhook configurations exist. */
  readyMs: number
  memory(): { rssMB: number; peakMB: number }
  cpuSeconds(): number
  /** Kyverno's own admission-request counter (kyverno_admission_requests_total), summed. */
  admissionRequests(): Promise<number>
  /** Stops the process and deletes the webhook configurations it leaves behind. */
  stop(): Promise<void>
}

/**
 * Applies the CRDs, creates the namespace, starts kyverno out of cluster and waits until it has
 * registered its webhook configurations (it does that itself, once it holds the leader lease).
 */
export async function startKyverno(o: { tools: KyvernoTools; kube: Kube; kubectl: (args: string[]) => Promise<unknown>; kubeconfig: string; dir: string; probePolicy: { path: string; obj: unknown } }): Promise<KyvernoProc> {
  await o.kubectl(['apply', '--server-side', '--force-conflicts', '-R', '-f', o.tools.crds])
  await waitFor('Kyverno CRDs established', async () => {
    const crds = (await o.kube.must('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).body.items as any[]
    return crds.length > 0 && crds.every((c) => (c.status?.conditions ?? []).some((x: any) => x.type === 'Established' && x.status === 'True'))
  }, 120_000, 200)
  await o.kube.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } })
  const [webhookPort, metricsPort] = (await freePorts(2)) as [number, number]
  const args = [
    `--kubeconfig=${o.kubeconfig}`,
    `--serverIP=127.0.0.1:${webhookPort}`,
    '--webhookServerHost=127.0.0.1',
    `--webhookServerPort=${webhookPort}`,
    '--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca',
    '--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair',
    '--allowInsecureRegistry',
    '--metricsHost=127.0.0.1',
    `--metricsPort=${metricsPort}`,
    '--controllerRuntimeMetricsAddress=0',
    '--loggingFormat=json',
  ]
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: o.dir,
    KYVERNO_NAMESPACE: NAMESPACE,
    KYVERNO_SERVICEACCOUNT_NAME: 'kyverno',
    KYVERNO_DEPLOYMENT: 'kyverno',
    KYVERNO_POD_NAME: 'kyverno-bench',
    INIT_CONFIG: 'kyverno',
    METRICS_CONFIG: 'kyverno-metrics',
  }
  const started = performance.now()
  const child = spawnLogged(o.tools.kyverno, args, join(o.dir, `kyverno-${webhookPort}.log`), env)
  // Ready = its webhook configurations exist and it answers through them: a dry-run create of the
  // first policy passes Kyverno's own policy-validating webhook.
  let last = ''
  await waitFor('kyverno webhook configurations and its policy webhook answering', async () => {
    if (child.proc.exitCode !== null) throw new StopWaiting(`kyverno exited: ${child.tail()}`)
    if ((await webhookConfigs(o.kube)).length === 0) return false
    const a = await o.kube.req('POST', `${o.probePolicy.path}?dryRun=All`, o.probePolicy.obj)
    last = `HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 600)}`
    // 400: Kyverno answered and refused the policy (e.g. a CEL compile error): no point waiting
    if (a.status === 400) throw new Error(`Kyverno refuses the policy: ${a.body?.message ?? JSON.stringify(a.body)}`)
    return a.status === 201
  }, 120_000, 200).catch((e: Error) => {
    throw new Error(`${e.message}\nlast policy dry-run: ${last}\n${child.tail()}`)
  })
  const readyMs = performance.now() - started
  return {
    child,
    pid: child.pid,
    webhookPort,
    metricsPort,
    readyMs,
    memory: () => procMemory(child.pid),
    cpuSeconds: () => procCpuSeconds(child.pid),
    async admissionRequests() {
      const text = (await httpGet(`http://127.0.0.1:${metricsPort}/metrics`)).body
      let sum = 0
      for (const m of text.matchAll(/^kyverno_admission_requests_total(?:\{[^}]*\})? (\S+)$/gm)) sum += Number(m[1])
      return sum
    },
    async stop() {
      await child.stop()
      // Kyverno leaves its webhook configurations behind on SIGTERM: a cluster without Kyverno would
      // then fail every matching request (failurePolicy Fail).
      for (const c of await webhookConfigs(o.kube)) await o.kube.req('DELETE', `${c.path}/${c.name}`)
    },
  }
}

/** The webhook configurations Kyverno manages (label webhook.kyverno.io/managed-by=kyverno). */
export async function webhookConfigs(kube: Kube): Promise<Array<{ path: string; name: string; webhooks: any[] }>> {
  const out: Array<{ path: string; name: string; webhooks: any[] }> = []
  for (const path of WEBHOOK_CONFIG_PATHS) {
    const list = (await kube.must('GET', `${path}?labelSelector=${encodeURIComponent(MANAGED_BY)}`)).body
    for (const o of list.items ?? []) out.push({ path, name: o.metadata.name, webhooks: o.webhooks ?? [] })
  }
  return out
}
