// The webhook and the null handler as separate processes, run compiled from dist/ (as in production).
import { readFileSync } from 'node:fs'
import { get as httpsGet, request as httpsRequest } from 'node:https'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { httpGet, spawnLogged, StopWaiting, waitFor, freePorts, procMemory, type Child } from './proc.js'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const CLI = join(REPO_ROOT, 'dist/src/cli.js')
export const NULL_SERVER = join(REPO_ROOT, 'bench/null-server.mjs')
export const BARE_NULL_SERVER = join(REPO_ROOT, 'bench/bare-null-server.mjs')

/** The chart's deployment defaults (values.yaml), which the image's ENV equals (test/dockerfile.test.ts). */
function shippedDeployment(): { nodeOptions?: string; mallocEnv?: Record<string, string> } {
  const values = parseYaml(readFileSync(join(REPO_ROOT, 'charts/wasm-admission/values.yaml'), 'utf8')) as { deployment?: { nodeOptions?: string; mallocEnv?: Record<string, string> } }
  return values.deployment ?? {}
}

/** The V8 flags the image and the chart ship (the chart's deployment.nodeOptions). */
export function shippedNodeOptions(): string {
  return shippedDeployment().nodeOptions ?? ''
}

/** The glibc malloc environment the image and the chart ship (the chart's deployment.mallocEnv). */
export function shippedMallocEnv(): Record<string, string> {
  return shippedDeployment().mallocEnv ?? {}
}

export interface WebhookProc {
  child: Child
  port: number
  healthPort: number
  url: string
  /** ms from spawn to /readyz 200 (process start + informer sync). */
  readyMs: number
  metrics(): Promise<string>
  metric(name: string, labels?: Record<string, string>): Promise<number>
  memory(): Promise<{ rssMB: number; peakMB: number; heapUsedMB: number; heapTotalMB: number }>
  stop(): Promise<void>
}

export interface WebhookArgs {
  dir: string
  tlsDir: string
  kubeconfig: string
  registryConfig: string
  /** Extra node flags (e.g. --cpu-prof); they take precedence over nodeOptions. */
  nodeArgs?: string[]
  /** NODE_OPTIONS for the webhook ('' = Node's defaults). */
  nodeOptions?: string
  /** Extra environment (default: the shipped glibc malloc settings, shippedMallocEnv(); {} = glibc's defaults). */
  env?: Record<string, string>
  extraArgs?: string[]
  logLevel?: string
}

export async function startWebhook(a: WebhookArgs, name = 'webhook'): Promise<WebhookProc> {
  const [port, healthPort] = (await freePorts(2)) as [number, number]
  const args = [
    ...(a.nodeArgs ?? []),
    CLI, 'serve',
    '--host', '127.0.0.1',
    '--port', String(port),
    '--health-port', String(healthPort),
    '--tls-dir', a.tlsDir,
    '--kubeconfig', a.kubeconfig,
    '--registry-config', a.registryConfig,
    '--shutdown-delay-seconds', '0',
    '--log-level', a.logLevel ?? 'info',
    ...(a.extraArgs ?? []),
  ]
  const started = performance.now()
  const child = spawnLogged(process.execPath, args, join(a.dir, `${name}-${port}.log`), { ...process.env, ...(a.env ?? shippedMallocEnv()), NODE_OPTIONS: a.nodeOptions ?? '' })
  await waitFor('webhook /readyz', async () => {
    if (child.proc.exitCode !== null) throw new StopWaiting(`webhook exited: ${child.tail()}`)
    return (await httpGet(`http://127.0.0.1:${healthPort}/readyz`)).status === 200
  }, 300_000, 10).catch((e: Error) => {
    throw new Error(`${e.message}\n${child.tail()}`)
  })
  const readyMs = performance.now() - started
  const metrics = async (): Promise<string> => (await httpGet(`http://127.0.0.1:${healthPort}/metrics`)).body
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    let sum = 0
    for (const line of (await metrics()).split('\n')) {
      const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line)
      if (!m || m[1] !== name) continue
      const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3])
    }
    return sum
  }
  return {
    child,
    port,
    healthPort,
    url: `https://127.0.0.1:${port}`,
    readyMs,
    metrics,
    metric,
    async memory() {
      const m = procMemory(child.pid)
      return {
        ...m,
        heapUsedMB: (await metric('wasm_admission_nodejs_heap_size_used_bytes')) / 1048576,
        heapTotalMB: (await metric('wasm_admission_nodejs_heap_size_total_bytes')) / 1048576,
      }
    },
    stop: () => child.stop(),
  }
}

export interface NullProc {
  child: Child
  url: string
  /** Reviews answered so far (its GET /count). */
  count(): Promise<number>
  /** TLS connections accepted, HTTP/2 sessions opened, reviews served and those over HTTP/2 so far (its GET /connections; bench/null-server.mjs only). */
  connections(): Promise<{ tls: number; h2: number; reviews: number; h2Reviews: number }>
  /** Sets the constant JSON patch its /patch/mutate answers with (PUT /patch; bench/null-server.mjs only). */
  setPatch(ops: unknown[]): Promise<void>
  /** Sets the wait before each /patch-slow answer (PUT /slow-ms; bench/null-server.mjs only). */
  setSlowMs(ms: number): Promise<void>
  stop(): Promise<void>
}

/** The null handler (bench/null-server.mjs); caPem: the CA that issued tlsDir's certificate; nodeOptions: its NODE_OPTIONS. */
export async function startNullServer(dir: string, tlsDir: string, caPem: string, nodeOptions = '', script = NULL_SERVER): Promise<NullProc> {
  const [port] = (await freePorts(1)) as [number]
  const child = spawnLogged(process.execPath, [script, tlsDir, String(port)], join(dir, `null-${port}.log`), { ...process.env, NODE_OPTIONS: nodeOptions })
  await waitFor('null server', () => {
    if (child.proc.exitCode !== null) throw new StopWaiting(`null server exited: ${child.tail()}`)
    return child.tail().includes('"port"')
  }, 30_000)
  const url = `https://127.0.0.1:${port}`
  const count = async (): Promise<number> => Number((await httpsGetText(`${url}/count`, caPem)).trim())
  const connections = async (): Promise<{ tls: number; h2: number; reviews: number; h2Reviews: number }> => JSON.parse(await httpsGetText(`${url}/connections`, caPem))
  const setPatch = async (ops: unknown[]): Promise<void> => {
    const status = await httpsPut(`${url}/patch`, caPem, JSON.stringify(ops))
    if (status !== 204) throw new Error(`null server PUT /patch: HTTP ${status}`)
  }
  const setSlowMs = async (ms: number): Promise<void> => {
    const status = await httpsPut(`${url}/slow-ms`, caPem, JSON.stringify(ms))
    if (status !== 204) throw new Error(`null server PUT /slow-ms: HTTP ${status}`)
  }
  return { child, url, count, connections, setPatch, setSlowMs, stop: () => child.stop() }
}

export { procMemory }

/** PUT of a JSON body over TLS, the server's certificate checked against caPem; the status. */
function httpsPut(url: string, caPem: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'PUT', ca: caPem, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** GET over TLS, the server's certificate checked against caPem; the body as text. */
function httpsGetText(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca: caPem }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      res.on('error', reject)
    }).on('error', reject)
  })
}
