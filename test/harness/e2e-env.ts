/**
 * The whole product on real parts, once per test file (and for the demo):
 *
 *   etcd + kube-apiserver + kube-controller-manager  (./control-plane.ts)
 *   docker-registry holding every sample image      (./registry.ts, ./sample-images.ts)
 *   the seed-tutorial cluster objects: 6 Nodes (status through nodes/status), RuntimeClasses
 *   the webhook as a real child process             (node dist/src/cli.js serve, real TLS)
 *   the chart installed with the real helm in url mode, caBundle = the test CA
 *
 *   const env = await startE2EEnv()
 *   t.teardown(() => env.stop())
 *   await env.apply(deployment, { namespace: 'demo' })
 *
 * Nothing here sleeps to synchronise: every wait polls a condition against a deadline.
 * Ctrl-C / SIGTERM / SIGHUP and failures during start leave no process behind: the webhook runs in
 * its own process group under `setpriv --pdeathsig KILL` and is killed synchronously by a signal
 * handler; the registry (a plain child) is killed by pid from the same handler; the control plane
 * has its own handlers (control-plane.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { startControlPlane, type ControlPlane, type KubectlOptions, type KubectlResult } from './control-plane.js'
import { registryAvailable, startRegistry, type RegistryHandle } from './registry.js'
import { pushSampleImages, type SampleImage, type SampleName } from './sample-images.js'
import { StopWaiting, freePorts, httpGet, run, waitFor } from './process.js'
export { StopWaiting, waitFor } from './process.js'
import { missingTools, toolPaths } from './tools.js'
import { startRealNodes, type RealNodeSpec, type RealNodes } from './real-nodes.js'
import { issueServingCert, makeCa } from '../helpers/tls.js'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const CLI = join(REPO_ROOT, 'dist/src/cli.js')
export const CHART_DIR = join(REPO_ROOT, 'charts/wasm-admission')

export const RELEASE = 'wasm-admission'
export const RELEASE_NAMESPACE = 'wasm-admission'
/** Label switching a namespace's mode (src/domain/policy.ts MODE_LABEL). */
export const MODE_LABEL = 'wasm-admission.io/mode'

export type K8sObject = Record<string, any>

// ------------------------------------------------------------------ the seed-tutorial cluster

const RUNC = [{ name: '' }, { name: 'runc' }]

/** The tutorial's 6 nodes: 2 runc only, 4 with wasmtime (2 of them also crun), 2 of those 4 also spin. */
export const SEED_NODES: Array<{ name: string; labels: Record<string, string>; handlers: string[] }> = [
  { name: 'node-runc-1', labels: {}, handlers: [] },
  { name: 'node-runc-2', labels: {}, handlers: [] },
  { name: 'node-wasm-1', labels: { 'wasmtime-enabled': 'yes' }, handlers: ['wasmtime', 'crun'] },
  { name: 'node-wasm-2', labels: { 'wasmtime-enabled': 'yes' }, handlers: ['wasmtime', 'crun'] },
  { name: 'node-spin-1', labels: { 'wasmtime-enabled': 'yes', spin: 'yes' }, handlers: ['wasmtime', 'spin'] },
  { name: 'node-spin-2', labels: { 'wasmtime-enabled': 'yes', spin: 'yes' }, handlers: ['wasmtime', 'spin'] },
]

/** Toleration the `crun` RuntimeClass carries (merged into pods by the apiserver). */
export const CRUN_TOLERATION = { key: 'wasm-admission.io/crun', operator: 'Exists', effect: 'NoSchedule' }
/** Overhead of the `crun` RuntimeClass (set on pods by the apiserver). */
export const CRUN_OVERHEAD = { cpu: '50m', memory: '32Mi' }

/** The tutorial's RuntimeClasses plus `crun` (overhead, tolerations) and `slight-nowhere` (no node has slight). */
export const SEED_RUNTIME_CLASSES: K8sObject[] = [
  { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'wasm1' }, handler: 'wasmtime', scheduling: { nodeSelector: { 'wasmtime-enabled': 'yes' } } },
  { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-test' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } },
  {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: 'crun' },
    handler: 'crun',
    overhead: { podFixed: CRUN_OVERHEAD },
    scheduling: { nodeSelector: { 'wasmtime-enabled': 'yes' }, tolerations: [CRUN_TOLERATION] },
  },
  { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'slight-nowhere' }, handler: 'slight', scheduling: { nodeSelector: { slight: 'yes' } } },
]

export function seedNodeObjects(): { node: K8sObject; status: K8sObject }[] {
  return SEED_NODES.map((n) => ({
    node: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...n.labels } },
    },
    status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'e2e fake node (no kubelet)', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
      runtimeHandlers: [...RUNC, ...n.handlers.map((name) => ({ name }))],
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    },
  }))
}

// ------------------------------------------------------------------ process bookkeeping

const livePids = new Set<number>()
const liveDirs = new Set<string>()
let handlersInstalled = false

function killPid(pid: number, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL')
  } catch {
    /* gone */
  }
}

function emergencyCleanup(): void {
  for (const pid of livePids) {
    killPid(pid, true)
    killPid(pid, false)
  }
  livePids.clear()
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true })
  liveDirs.clear()
}

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', emergencyCleanup)
  const handlers = {} as Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', () => void>
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    handlers[sig] = () => {
      emergencyCleanup()
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, handlers[s])
      handlersInstalled = false
      // Re-raise so the process dies of the signal (control-plane.ts does the same for its part).
      process.kill(process.pid, sig)
    }
    process.on(sig, handlers[sig])
  }
}

/** Live direct children of this process (pid, comm, argv), from /proc. */
export function liveChildren(): Array<{ pid: number; comm: string; argv: string[] }> {
  const out: Array<{ pid: number; comm: string; argv: string[] }> = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const [state, ppid] = stat.slice(close + 2).split(' ')
      if (Number(ppid) !== process.pid || state === 'Z') continue
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
      out.push({ pid: Number(e), comm: stat.slice(stat.indexOf('(') + 1, close), argv })
    } catch {
      /* raced with exit */
    }
  }
  return out
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))






// ------------------------------------------------------------------ the webhook process

export interface WebhookProcess {
  /** HTTPS admission port on 127.0.0.1. */
  port: number
  healthPort: number
  /** https://127.0.0.1:<port> (what the chart's webhook.url is set to). */
  url: string
  logFile: string
  pid(): number | undefined
  running(): boolean
  /** Starts the process (again, same ports/certs) and waits for /readyz. */
  start(): Promise<void>
  /** SIGTERM, SIGKILL after graceMs; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>
  /** Sum of wasm_admission_requests_total samples whose labels include all of `labels`. */
  requestCount(labels: Record<string, string>): Promise<number>
}

function startableWebhook(dir: string, args: string[], port: number, healthPort: number): WebhookProcess {
  const logFile = join(dir, 'webhook.log')
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let exitInfo = ''
  const tail = (): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')
    } catch {
      return '(no log)'
    }
  }
  const proc: WebhookProcess = {
    port,
    healthPort,
    url: `https://127.0.0.1:${port}`,
    logFile,
    pid: () => child?.pid,
    running: () => child !== undefined,
    async start() {
      if (child) throw new Error('webhook already running')
      const fd = openSync(logFile, 'a')
      const full = [process.execPath, CLI, 'serve', ...args]
      let c: ChildProcess
      try {
        const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', ...full]] : [full[0]!, full.slice(1)]
        c = spawn(cmd, argv, { stdio: ['ignore', fd, fd], detached: true, cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' } })
      } finally {
        closeSync(fd)
      }
      child = c
      exitInfo = ''
      if (c.pid !== undefined) livePids.add(c.pid)
      exited = new Promise<void>((res) => {
        const done = (info: string): void => {
          exitInfo = info
          if (c.pid !== undefined) livePids.delete(c.pid)
          if (child === c) child = undefined
          res()
        }
        c.once('exit', (code, sig) => done(`exited with ${sig ?? `code ${code}`}`))
        c.once('error', (e) => done(`failed to spawn: ${e.message}`))
      })
      await waitFor('the webhook /readyz', async () => {
        if (!child) throw new StopWaiting(`webhook ${exitInfo} before it was ready`)
        return (await httpGet(`http://127.0.0.1:${healthPort}/readyz`)).status === 200
      }, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\nwebhook log ${logFile}:\n${tail()}`)
      })
    },
    async stop(graceMs = 10_000) {
      const c = child
      if (!c || c.pid === undefined) return
      killPidSignal(c.pid, 'SIGTERM')
      const timer = setTimeout(() => killPidSignal(c.pid!, 'SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      killPidSignal(c.pid, 'SIGKILL')
    },
    async metrics() {
      const r = await httpGet(`http://127.0.0.1:${healthPort}/metrics`)
      if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status}`)
      return r.body
    },
    async requestCount(labels) {
      const text = await proc.metrics()
      let sum = 0
      for (const line of text.split('\n')) {
        const m = /^wasm_admission_requests_total\{([^}]*)\} (\S+)$/.exec(line)
        if (!m) continue
        const have = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2])
      }
      return sum
    },
  }
  return proc
}

function killPidSignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig)
  } catch {
    try {
      process.kill(pid, sig)
    } catch {
      /* gone */
    }
  }
}

// ------------------------------------------------------------------ the environment

export interface E2EEnvOptions {
  /** Policy document (YAML object) for the webhook's --policy file and the chart's `policy` value. Default: {} (built-in). */
  policy?: Record<string, unknown>
  /** Extra chart values (merged over the url-mode values). */
  chartValues?: Record<string, unknown>
  /** Only these samples are pushed (default: all). */
  samples?: readonly SampleName[]
  /** Progress lines (the demo prints them). */
  log?: (line: string) => void
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[]
  /** Keep the temp dirs (control plane, webhook) after stop(). */
  keep?: boolean
  /**
   * Real worker nodes (./real-nodes.ts: containerd + kubelet each) instead of the 6 kubelet-less seed Nodes;
   * e.g. seedRealNodeSpecs(). Needs the namespaces of ./own-netns.ts. The node-lifecycle controller is on.
   */
  realNodes?: RealNodeSpec[]
  /** Extra `serve` flags of the webhook process (e.g. --drift). */
  webhookArgs?: string[]
}

export interface ApplyOptions {
  namespace?: string
  /** Don't throw when kubectl fails. */
  allowFailure?: boolean
  /** `create` instead of `apply` (default apply --server-side=false). */
  verb?: 'apply' | 'create'
  /** --dry-run=server */
  dryRun?: boolean
}

export interface E2EEnv {
  cp: ControlPlane
  registry: RegistryHandle
  samples: Record<SampleName, SampleImage>
  webhook: WebhookProcess
  /** The real worker nodes (when E2EEnvOptions.realNodes was given). */
  nodes?: RealNodes
  /** Temp dir of the env (webhook certs, policy, registry config, logs). */
  dir: string
  kubeconfigPath: string
  /** PEM of the CA the chart's caBundle holds. */
  caPem: string
  release: string
  releaseNamespace: string
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>
  helm(args: string[]): Promise<KubectlResult>
  /** kubectl apply/create of objects (or YAML text) through stdin. */
  apply(objects: K8sObject | K8sObject[] | string, opts?: ApplyOptions): Promise<KubectlResult>
  /** kubectl get -o json (throws when it fails). */
  get(kind: string, name: string, namespace?: string): Promise<K8sObject>
  list(kind: string, namespace?: string, selector?: string): Promise<K8sObject[]>
  /** Creates a namespace with labels and waits for its default ServiceAccount (pods need it). */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>
  /**
   * Starts (and waits for /readyz of) one more `serve` process with the webhook's certificate, policy,
   * kubeconfig and registry config on fresh ports, plus `extraArgs` (the drift tests' second and
   * third replicas). Stopped by stop().
   */
  spawnWebhook(name: string, extraArgs: string[]): Promise<WebhookProcess>
  /**
   * Waits until both webhooks are called for new Pods in a covered namespace (a server-side dry-run
   * Spin pod comes back mutated, or a Linux pod under a Wasm RuntimeClass is denied).
   */
  waitForWebhooks(): Promise<void>
  stop(): Promise<void>
}

/** Why the environment cannot start (missing tools/build), or undefined. */
export function e2eMissing(): string | undefined {
  const tools = missingTools()
  if (tools.length > 0) return `control-plane tools not built (${tools.join(', ')}): run scripts/build-tools.sh`
  if (!registryAvailable()) return 'docker-registry is not installed: run scripts/install-system-deps.sh'
  if (!existsSync(CLI)) return `${CLI} is missing: run \`npm run build\` first (scripts/test.sh and scripts/demo.sh do)`
  return undefined
}

/** dist/ older than a source file under src/ (a warning, not an error: the suite runs what was built). */
export function distIsStale(): boolean {
  if (!existsSync(CLI)) return true
  const built = statSync(CLI).mtimeMs
  const walk = (d: string): boolean =>
    readdirSync(d, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') && statSync(join(d, e.name)).mtimeMs > built))
  return walk(join(REPO_ROOT, 'src'))
}

export async function startE2EEnv(opts: E2EEnvOptions = {}): Promise<E2EEnv> {
  const missing = e2eMissing()
  if (missing) throw new Error(`e2e environment cannot start: ${missing}`)
  const log = opts.log ?? (() => undefined)
  installHandlers()
  const dir = mkdtempSync(join(tmpdir(), 'wasm-admission-e2e-'))
  if (!opts.keep) liveDirs.add(dir)
  const ca = makeCa('wasm-admission-e2e-ca')
  liveDirs.add(ca.dir)

  let cp: ControlPlane | undefined
  let registry: RegistryHandle | undefined
  const registryPids: number[] = []
  const registryDirs: string[] = []
  let webhook: WebhookProcess | undefined
  const extraWebhooks: WebhookProcess[] = []
  let nodes: RealNodes | undefined
  let stopped = false
  const helmHome = join(dir, 'helm-home')
  for (const d of ['config', 'cache', 'data']) mkdirSync(join(helmHome, d), { recursive: true })

  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await webhook?.stop(5_000).catch(() => undefined)
    for (const w of extraWebhooks) await w.stop(5_000).catch(() => undefined)
    await nodes?.stop().catch(() => undefined)
    await registry?.stop().catch(() => undefined)
    for (const p of registryPids) livePids.delete(p)
    for (const d of registryDirs) liveDirs.delete(d)
    await cp?.stop().catch(() => undefined)
    rmSync(ca.dir, { recursive: true, force: true })
    liveDirs.delete(ca.dir)
    if (!opts.keep) {
      rmSync(dir, { recursive: true, force: true })
      liveDirs.delete(dir)
    }
  }

  try {
    log('starting etcd, kube-apiserver and kube-controller-manager')
    const regP = (async () => {
      const r = await startRegistry()
      registry = r
      // registry.ts does not expose its child: find it (our direct child serving this port's config).
      for (const c of liveChildren().filter((c) => c.comm === 'docker-registry')) {
        registryPids.push(c.pid)
        livePids.add(c.pid)
        const cfg = c.argv[c.argv.length - 1]
        if (cfg?.endsWith('/config.yml')) registryDirs.push(dirname(cfg))
      }
      for (const d of registryDirs) liveDirs.add(d)
      return r
    })()
    const cpP = startControlPlane({
      withControllerManager: true,
      keepDir: opts.keep ?? false,
      ...(opts.apiserverArgs ? { apiserverArgs: opts.apiserverArgs } : {}),
      // Real kubelets: the node-lifecycle controller lifts the not-ready taint once a node is Ready.
      ...(opts.realNodes ? { controllers: ['*'], withScheduler: true } : {}),
    })
    // Both started; wait for both so a failure of one still lets the other be stopped.
    const [regR, cpR] = await Promise.allSettled([regP, cpP])
    if (cpR.status === 'fulfilled') cp = cpR.value
    if (regR.status === 'rejected') throw regR.reason
    if (cpR.status === 'rejected') throw cpR.reason
    const plane = cp!
    const reg = registry!
    log(`registry at ${reg.host}; pushing the sample images`)
    const samples = await pushSampleImages(reg.host, opts.samples ? { only: [...new Set<SampleName>([...opts.samples, 'spin-scratch', 'linux', ...(opts.realNodes ? ['pause' as const] : [])])] } : {})

    const kubectl = (args: string[], kopts?: KubectlOptions): Promise<KubectlResult> => plane.kubectl(args, kopts)
    const apply = async (objects: K8sObject | K8sObject[] | string, aopts: ApplyOptions = {}): Promise<KubectlResult> => {
      // JSON, not YAML: kubectl reads YAML 1.1, where an unquoted yes is a boolean.
      const input = typeof objects === 'string' ? objects : (Array.isArray(objects) ? objects : [objects]).map((o) => JSON.stringify(o)).join('\n---\n')
      const args = [aopts.verb ?? 'apply', '-f', '-']
      if (aopts.namespace) args.push('-n', aopts.namespace)
      if (aopts.dryRun) args.push('--dry-run=server', '-o', 'json')
      return kubectl(args, { input, ...(aopts.allowFailure ? { allowFailure: true } : {}) })
    }
    const get = async (kind: string, name: string, namespace?: string): Promise<K8sObject> =>
      JSON.parse((await kubectl(['get', kind, name, '-o', 'json', ...(namespace ? ['-n', namespace] : [])])).stdout) as K8sObject
    const list = async (kind: string, namespace?: string, selector?: string): Promise<K8sObject[]> =>
      (JSON.parse((await kubectl(['get', kind, '-o', 'json', ...(namespace ? ['-n', namespace] : []), ...(selector ? ['-l', selector] : [])])).stdout) as K8sObject).items as K8sObject[]
    const createNamespace = async (name: string, labels: Record<string, string> = {}): Promise<void> => {
      await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } })
      // The ServiceAccount admission plugin rejects pods until the controller-manager made `default`.
      await waitFor(`ServiceAccount default in ${name}`, async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', name], { allowFailure: true })).code === 0)
    }

    if (opts.realNodes) {
      log(`creating RuntimeClasses wasm1, spin-test, crun, slight-nowhere; starting real nodes ${opts.realNodes.map((n) => n.name).join(', ')}`)
      await plane.kubectl(['apply', '-f', '-'], { input: SEED_RUNTIME_CLASSES.map((o) => JSON.stringify(o)).join('\n---\n') })
      nodes = await startRealNodes({ cp: plane, registryHost: reg.host, sandboxImage: samples.pause.ref, nodes: opts.realNodes, log, keepDir: opts.keep ?? false })
    } else {
      log('creating the seed-tutorial cluster: 6 nodes, RuntimeClasses wasm1, spin-test, crun, slight-nowhere')
      await seedCluster(plane)
    }

    // The webhook: real TLS (a serving cert for 127.0.0.1 from the test CA), policy file, registry config.
    const tlsDir = join(dir, 'tls')
    issueServingCert(ca, tlsDir, 'wasm-admission')
    const policyFile = join(dir, 'policy.yaml')
    writeFileSync(policyFile, toYaml(opts.policy ?? {}))
    const registryConfig = join(dir, 'registry-config.yaml')
    writeFileSync(registryConfig, toYaml({ plainHttp: [reg.host], allowHosts: ['127.0.0.0/8'] }))
    const [port, healthPort] = (await freePorts(2)) as [number, number]
    const common = [
      '--tls-dir', tlsDir,
      '--policy', policyFile,
      '--kubeconfig', plane.kubeconfigPath,
      '--registry-config', registryConfig,
      '--webhook-timeout-seconds', '5',
      '--shutdown-delay-seconds', '0',
      '--log-level', process.env.WASM_ADMISSION_E2E_LOG_LEVEL ?? 'info',
    ]
    const wh = startableWebhook(dir, ['--host', '127.0.0.1', '--port', String(port), '--health-port', String(healthPort), ...common, ...(opts.webhookArgs ?? [])], port, healthPort)
    webhook = wh
    log(`starting the webhook: node dist/src/cli.js serve --port ${port} (log ${wh.logFile})`)
    await wh.start()

    const helmEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: helmHome,
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      KUBECONFIG: plane.kubeconfigPath,
    }
    const helm = (args: string[]): Promise<KubectlResult> => run(toolPaths().helm, args, { env: helmEnv, timeoutMs: 180_000 })
    const valuesFile = join(dir, 'values.yaml')
    writeFileSync(valuesFile, toYaml({ policy: opts.policy ?? {}, ...(opts.chartValues ?? {}) }))
    const caFile = join(dir, 'ca.crt')
    writeFileSync(caFile, ca.caPem)
    log(`helm install ${RELEASE} charts/wasm-admission -n ${RELEASE_NAMESPACE} (url mode: webhook.url=${wh.url})`)
    const inst = await helm([
      'install', RELEASE, CHART_DIR, '-n', RELEASE_NAMESPACE, '--create-namespace',
      '--set', 'deployment.enabled=false',
      '--set', `webhook.url=${wh.url}`,
      '--set', 'certificates.mode=provided',
      '--set-file', `certificates.caBundle=${caFile}`,
      '-f', valuesFile,
      '--wait', '--timeout', '2m',
    ])
    if (inst.code !== 0) throw new Error(`helm install failed (exit ${inst.code}):\n${inst.stderr}${inst.stdout}`)

    const probeNs = 'wasm-admission-probe'
    await createNamespace(probeNs)
    const env: E2EEnv = {
      cp: plane,
      registry: reg,
      samples,
      webhook: wh,
      ...(nodes ? { nodes } : {}),
      dir,
      kubeconfigPath: plane.kubeconfigPath,
      caPem: ca.caPem,
      release: RELEASE,
      releaseNamespace: RELEASE_NAMESPACE,
      kubectl,
      helm,
      apply,
      get,
      list,
      createNamespace,
      spawnWebhook: async (name, extraArgs) => {
        const [p, hp] = (await freePorts(2)) as [number, number]
        const wdir = join(dir, name)
        mkdirSync(wdir, { recursive: true })
        const w = startableWebhook(wdir, ['--host', '127.0.0.1', '--port', String(p), '--health-port', String(hp), ...common, ...extraArgs], p, hp)
        extraWebhooks.push(w)
        await w.start()
        return w
      },
      waitForWebhooks: async () => {
        await waitFor('the apiserver to call the mutating webhook', async () => {
          const r = await apply(podObject('probe-mutate', samples['spin-scratch'].ref), { namespace: probeNs, verb: 'create', dryRun: true, allowFailure: true })
          return r.code === 0 && (JSON.parse(r.stdout) as K8sObject).spec.runtimeClassName === 'spin-test'
        })
        await waitFor('the apiserver to call the validating webhook', async () => {
          const r = await apply(podObject('probe-validate', samples.linux.ref, { runtimeClassName: 'wasm1' }), { namespace: probeNs, verb: 'create', dryRun: true, allowFailure: true })
          return r.code !== 0 && r.stderr.includes('is a Linux image')
        })
      },
      stop,
    }
    log('waiting until the apiserver calls the webhooks')
    await env.waitForWebhooks()
    return env
  } catch (err) {
    await stop()
    throw err
  }
}

/** Creates the seed Nodes (status via the nodes/status subresource) and RuntimeClasses. */
export async function seedCluster(cp: ControlPlane): Promise<void> {
  const nodes = seedNodeObjects()
  await cp.kubectl(['apply', '-f', '-'], { input: [...nodes.map((n) => n.node), ...SEED_RUNTIME_CLASSES].map((o) => JSON.stringify(o)).join('\n---\n') })
  for (const n of nodes) {
    await cp.kubectl(['patch', 'node', n.node.metadata.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: n.status })])
    // The TaintNodesByCondition admission plugin taints every new Node not-ready:NoSchedule. The
    // node-lifecycle controller (which would lift it once Ready, and would later taint the kubelet-less
    // nodes unreachable) is off in the harness (control-plane.ts DEFAULT_CONTROLLERS). Do its job once.
    await cp.kubectl(['taint', 'node', n.node.metadata.name, 'node.kubernetes.io/not-ready:NoSchedule-'], { allowFailure: true })
  }
}

/** A bare Pod object. */
export function podObject(name: string, image: string, extra: { runtimeClassName?: string; labels?: Record<string, string>; annotations?: Record<string, string>; command?: string[] } = {}): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      ...(extra.runtimeClassName ? { runtimeClassName: extra.runtimeClassName } : {}),
      containers: [{ name: 'app', image, ...(extra.command ? { command: extra.command } : {}) }],
    },
  }
}

/** A Deployment of one container. */
export function deploymentObject(name: string, image: string, replicas = 1, extra: { runtimeClassName?: string } = {}): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { ...(extra.runtimeClassName ? { runtimeClassName: extra.runtimeClassName } : {}), containers: [{ name: 'app', image }] },
      },
    },
  }
}

/** The tolerations the DefaultTolerationSeconds admission plugin adds to every pod. */
export const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
]
