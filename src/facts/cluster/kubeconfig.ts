/**
 * Where the cluster facts come from, without reading `process`: an explicit path or $KUBECONFIG
 * (a list of paths, merged as kubectl merges them, see mergeKubeconfigs), else ~/.kube/config when
 * it exists, else the in-cluster service account (when KUBERNETES_SERVICE_HOST is set in env): the
 * token, ca.crt of /var/run/secrets/kubernetes.io/serviceaccount and
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, as client-go's rest.InClusterConfig.
 *
 * Two ways to use it:
 *  - loadKubeConnection(): a small kubeconfig reader and HTTPS client setup (undici) for the
 *    informers' list and watch calls: server, CA, client certificate, bearer token (re-read from
 *    its file whenever the file changes, so rotated service-account tokens are used by the next
 *    request), basic auth. This is the serve path: importing @kubernetes/client-node's KubeConfig
 *    alone costs about 75 MB of RSS (it loads the whole generated API), half of the webhook's
 *    memory budget (docs/benchmarks.md). Kubeconfigs that need an exec or auth-provider plugin,
 *    or a proxy, fall back to client-node.
 *  - loadKubeConfig(): client-node's KubeConfig, loaded on first use (the CLI commands and the
 *    opt-in pull-secret readers, which use client-node's API clients).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { Agent, type Dispatcher } from 'undici'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'

/** Where the kubelet mounts the service account's token, ca.crt and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export interface KubeconfigOptions {
  /** The service-account directory of the in-cluster path (tests point it elsewhere). */
  serviceAccountDir?: string
}

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
  /** Kubeconfig files in precedence order (the ones that exist). */
  files?: string[]
  inCluster: boolean
}

function sourceOf(path: string | undefined, env: Record<string, string | undefined>): Source {
  // --kubeconfig / KUBECONFIG (serve reads both into `path`): a list like kubectl's KUBECONFIG.
  const list = [...new Set((path ?? env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== ''))]
  if (list.length > 0) {
    const files = list.filter((f) => existsSync(f))
    if (files.length === 0) throw new Error(`no kubeconfig: ${list.join(', ')} ${list.length === 1 ? 'does' : 'do'} not exist`)
    return { files, inCluster: false }
  }
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined
  if (home && existsSync(home)) return { files: [home], inCluster: false }
  if (env.KUBERNETES_SERVICE_HOST) return { inCluster: true }
  throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster')
}

type Doc = Record<string, unknown>
type Named = { name?: unknown; [k: string]: unknown }

/** Relative file references of one kubeconfig, made absolute against its folder (client-go ResolveLocalPaths). */
function absolutePaths(doc: Doc, file: string): Doc {
  const base = dirname(file)
  const abs = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? join(base, p) : p)
  const fix = (list: unknown, key: string, fields: string[]): unknown =>
    Array.isArray(list)
      ? (list as Named[]).map((e) => {
          const inner = e?.[key] as Record<string, unknown> | undefined
          if (inner === undefined || inner === null || typeof inner !== 'object') return e
          const out = { ...inner }
          for (const f of fields) if (f in out) out[f] = abs(out[f])
          return { ...e, [key]: out }
        })
      : list
  return {
    ...doc,
    clusters: fix(doc.clusters, 'cluster', ['certificate-authority']),
    users: fix(doc.users, 'user', ['client-certificate', 'client-key', 'tokenFile']),
  }
}

/**
 * Several kubeconfig files merged the way kubectl merges $KUBECONFIG (client-go
 * tools/clientcmd/loader.go, ClientConfigLoadingRules.Load, v0.36.3): "The first file to set a
 * particular map key wins and map key's value is never changed": a cluster, user or context is
 * taken whole from the first file that names it ("if two files specify a 'red-user', only values
 * from the first file's red-user are used"); a plain value such as current-context is taken from
 * the first file that sets it; missing files are skipped; relative paths inside each file are
 * resolved against that file's folder.
 */
export function mergeKubeconfigs(docs: Array<{ file: string; doc: Doc }>): Doc {
  const merged: Doc = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] }
  for (const { file, doc } of docs) {
    const d = absolutePaths(doc, file)
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      const into = merged[key] as Named[]
      for (const e of Array.isArray(d[key]) ? (d[key] as Named[]) : []) {
        if (e?.name === undefined || into.some((x) => x.name === e.name)) continue
        into.push(e)
      }
    }
    if (merged['current-context'] === undefined && typeof d['current-context'] === 'string' && d['current-context'] !== '') merged['current-context'] = d['current-context']
  }
  return merged
}

function readKubeconfigs(files: string[]): { doc: Doc; origin: string } {
  const docs = files.map((file) => ({ file, doc: ((parseYaml(readFileSync(file, 'utf8')) ?? {}) as Doc) }))
  return { doc: mergeKubeconfigs(docs), origin: `kubeconfig ${files.join(delimiter)}` }
}

export function loadKubeConfig(path: string | undefined, env: Record<string, string | undefined>): { kubeConfig: KubeConfig; origin: string } {
  const src = sourceOf(path, env)
  const kc = new (loadClientNode().KubeConfig)()
  if (src.files) {
    const { doc, origin } = readKubeconfigs(src.files)
    kc.loadFromString(stringifyYaml(doc))
    if (!kc.getCurrentCluster()) throw new Error(`${origin} has no current cluster`)
    return { kubeConfig: kc, origin }
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
export function loadKubeConnection(path: string | undefined, env: Record<string, string | undefined>, opts: KubeconfigOptions = {}): { connection: KubeConnection; origin: string } {
  const src = sourceOf(path, env)
  if (src.inCluster) {
    const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
    const server = `https://${bracketHost(env.KUBERNETES_SERVICE_HOST!)}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`
    return { connection: lightConnection(server, { ca: readFileSync(join(dir, 'ca.crt'), 'utf8') }, { tokenFile: join(dir, 'token') }), origin: `in-cluster service account (${dir})` }
  }
  const { doc, origin } = readKubeconfigs(src.files!)
  const contextName = doc['current-context'] as string | undefined
  const context = pick<{ cluster?: string; user?: string }>(doc.contexts, contextName, 'context')
  const cluster = pick<ClusterEntry>(doc.clusters, context?.cluster, 'cluster')
  if (!cluster?.server) throw new Error(`${origin} has no current cluster`)
  const user = pick<UserEntry>(doc.users, context?.user, 'user') ?? {}
  if (user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined) {
    return { connection: connectionFromKubeConfig(loadKubeConfig(path, env).kubeConfig), origin }
  }
  // Paths are absolute here (mergeKubeconfigs).
  const fileText = (p: string | undefined): string | undefined => (p ? readFileSync(p, 'utf8') : undefined)
  const data = (b64: string | undefined): string | undefined => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined)
  const tls = {
    ca: data(cluster['certificate-authority-data']) ?? fileText(cluster['certificate-authority']),
    cert: data(user['client-certificate-data']) ?? fileText(user['client-certificate']),
    key: data(user['client-key-data']) ?? fileText(user['client-key']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    servername: cluster['tls-server-name'],
  }
  return { connection: lightConnection(cluster.server, tls, { token: user.token, tokenFile: user.tokenFile, username: user.username, password: user.password }), origin }
}

function lightConnection(
  server: string,
  tls: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; rejectUnauthorized?: boolean; servername?: string | undefined },
  auth: { token?: string | undefined; tokenFile?: string | undefined; username?: string | undefined; password?: string | undefined },
): KubeConnection {
  const connect = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined))
  const dispatcher = server.startsWith('https:') ? new Agent({ connect }) : undefined
  let token = auth.token
  let tokenFileVersion = ''
  return {
    server: server.replace(/\/+$/, ''),
    async prepare() {
      const headers: Record<string, string> = {}
      if (auth.tokenFile) {
        // Bound service-account tokens rotate (the kubelet rewrites the projected file, about
        // hourly, by swapping a symlink): one stat per request (lists and watches, not reviews)
        // and a re-read when the file changed, so the request after a rotation carries the new
        // token. (client-go re-reads at most once a minute and after a 401.)
        const st = statSync(auth.tokenFile)
        const version = `${st.ino}:${st.size}:${st.mtimeMs}`
        if (version !== tokenFileVersion) {
          token = readFileSync(auth.tokenFile, 'utf8').trim()
          tokenFileVersion = version
        }
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
