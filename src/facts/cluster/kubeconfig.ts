/**
 * Where the cluster facts come from, without reading `process`: an explicit path, else $KUBECONFIG
 * (first entry), else ~/.kube/config when it exists, else the in-cluster service account (when
 * KUBERNETES_SERVICE_HOST is set in env).
 *
 * Two ways to use it:
 *  - loadKubeConnection(): a small kubeconfig reader and HTTPS client setup (undici) for the
 *    informers' list and watch calls: server, CA, client certificate, bearer token (re-read from
 *    its file, so rotated service-account tokens are picked up), basic auth. This is the serve
 *    path: importing @kubernetes/client-node's KubeConfig alone costs about 75 MB of RSS (it loads
 *    the whole generated API), half of the webhook's memory budget (docs/benchmarks.md).
 *    Kubeconfigs that need an exec or auth-provider plugin, or a proxy, fall back to client-node.
 *  - loadKubeConfig(): client-node's KubeConfig, loaded on first use (the CLI commands and the
 *    opt-in pull-secret readers, which use client-node's API clients).
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { Agent, type Dispatcher } from 'undici'
import { parse as parseYaml } from 'yaml'

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

type ClientNode = typeof import('@kubernetes/client-node')
let clientNode: ClientNode | undefined
/** @kubernetes/client-node, loaded synchronously on first use (require of an ES module, Node >= 22.12). */
function loadClientNode(): ClientNode {
  clientNode ??= createRequire(import.meta.url)('@kubernetes/client-node') as ClientNode
  return clientNode
}

/** An authenticated way to the API server, for GET requests (lists and watches). */
export interface KubeConnection {
  /** Base URL, e.g. https://10.0.0.1:443 */
  server: string
  /** Headers for one request and the shared TLS dispatcher. */
  prepare(): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher | undefined }>
  close(): Promise<void>
}

interface Source {
  file?: string
  inCluster: boolean
}

function sourceOf(path: string | undefined, env: Record<string, string | undefined>): Source {
  const fromEnv = env.KUBECONFIG?.split(delimiter).find((p) => p !== '')
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined
  const file = path ?? fromEnv ?? (home && existsSync(home) ? home : undefined)
  if (file) return { file, inCluster: false }
  if (env.KUBERNETES_SERVICE_HOST) return { inCluster: true }
  throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster')
}

export function loadKubeConfig(path: string | undefined, env: Record<string, string | undefined>): { kubeConfig: KubeConfig; origin: string } {
  const src = sourceOf(path, env)
  const kc = new (loadClientNode().KubeConfig)()
  if (src.file) {
    kc.loadFromFile(src.file)
    if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${src.file} has no current cluster`)
    return { kubeConfig: kc, origin: `kubeconfig ${src.file}` }
  }
  kc.loadFromCluster()
  return { kubeConfig: kc, origin: 'in-cluster service account' }
}

/** A connection through client-node's KubeConfig (any auth it supports, exec plugins included). */
export function connectionFromKubeConfig(kc: KubeConfig): KubeConnection {
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new Error('kubeconfig has no current cluster')
  const server = cluster.server.replace(/\/+$/, '')
  let dispatcher: Dispatcher | undefined
  let built = false
  return {
    server,
    async prepare() {
      const { RequestContext, HttpMethod } = loadClientNode()
      const ctx = new RequestContext(server, HttpMethod.GET)
      await kc.applySecurityAuthentication(ctx)
      if (!built) {
        dispatcher = ctx.getDispatcher() as Dispatcher | undefined
        built = true
      } else {
        // applySecurityAuthentication builds a new agent every call: drop it unused (it has no sockets).
        void (ctx.getDispatcher() as Dispatcher | undefined)?.close().catch(() => undefined)
      }
      return { headers: { ...ctx.getHeaders() }, dispatcher }
    },
    async close() {
      await dispatcher?.destroy().catch(() => undefined)
    },
  }
}

interface NamedEntry<T> {
  name?: string
  [k: string]: unknown
  value?: T
}

function pick<T>(list: unknown, name: string | undefined, field: string): T | undefined {
  if (!Array.isArray(list)) return undefined
  const e = (list as NamedEntry<T>[]).find((x) => x?.name === name)
  return e?.[field] as T | undefined
}

interface ClusterEntry {
  server?: string
  'certificate-authority'?: string
  'certificate-authority-data'?: string
  'insecure-skip-tls-verify'?: boolean
  'tls-server-name'?: string
  'proxy-url'?: string
}

interface UserEntry {
  'client-certificate'?: string
  'client-certificate-data'?: string
  'client-key'?: string
  'client-key-data'?: string
  token?: string
  tokenFile?: string
  username?: string
  password?: string
  exec?: unknown
  'auth-provider'?: unknown
}

function bracketHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/**
 * The light connection (see the file comment); falls back to client-node for what it does not
 * implement (exec and auth-provider plugins, proxies).
 */
export function loadKubeConnection(path: string | undefined, env: Record<string, string | undefined>): { connection: KubeConnection; origin: string } {
  const src = sourceOf(path, env)
  if (src.inCluster) {
    const server = `https://${bracketHost(env.KUBERNETES_SERVICE_HOST!)}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`
    return { connection: lightConnection(server, { ca: readFileSync(join(SA_DIR, 'ca.crt'), 'utf8') }, { tokenFile: join(SA_DIR, 'token') }), origin: 'in-cluster service account' }
  }
  const file = src.file!
  const doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>
  const contextName = doc['current-context'] as string | undefined
  const context = pick<{ cluster?: string; user?: string }>(doc.contexts, contextName, 'context')
  const cluster = pick<ClusterEntry>(doc.clusters, context?.cluster, 'cluster')
  if (!cluster?.server) throw new Error(`kubeconfig ${file} has no current cluster`)
  const user = pick<UserEntry>(doc.users, context?.user, 'user') ?? {}
  const origin = `kubeconfig ${file}`
  if (user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined) {
    return { connection: connectionFromKubeConfig(loadKubeConfig(file, env).kubeConfig), origin }
  }
  const base = dirname(file)
  const fileText = (p: string | undefined): string | undefined => (p ? readFileSync(isAbsolute(p) ? p : join(base, p), 'utf8') : undefined)
  const data = (b64: string | undefined): string | undefined => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined)
  const tls = {
    ca: data(cluster['certificate-authority-data']) ?? fileText(cluster['certificate-authority']),
    cert: data(user['client-certificate-data']) ?? fileText(user['client-certificate']),
    key: data(user['client-key-data']) ?? fileText(user['client-key']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    servername: cluster['tls-server-name'],
  }
  const tokenFile = user.tokenFile ? (isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile)) : undefined
  return { connection: lightConnection(cluster.server, tls, { token: user.token, tokenFile, username: user.username, password: user.password }), origin }
}

function lightConnection(
  server: string,
  tls: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; rejectUnauthorized?: boolean; servername?: string | undefined },
  auth: { token?: string | undefined; tokenFile?: string | undefined; username?: string | undefined; password?: string | undefined },
): KubeConnection {
  const connect = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined))
  const dispatcher = server.startsWith('https:') ? new Agent({ connect }) : undefined
  let token = auth.token
  let tokenReadAt = -Infinity
  return {
    server: server.replace(/\/+$/, ''),
    async prepare() {
      const headers: Record<string, string> = {}
      if (auth.tokenFile && Date.now() - tokenReadAt > 60_000) {
        // Bound service-account tokens rotate (about hourly): re-read the file every minute.
        token = readFileSync(auth.tokenFile, 'utf8').trim()
        tokenReadAt = Date.now()
      }
      if (token) headers.authorization = `Bearer ${token}`
      else if (auth.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`
      return { headers, dispatcher }
    },
    async close() {
      await dispatcher?.destroy().catch(() => undefined)
    },
  }
}
