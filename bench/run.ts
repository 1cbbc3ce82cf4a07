/**
 * The performance bench of wasm-admission, on real parts: kube-apiserver + etcd, docker-registry
 * with the Wasm sample images, the chart installed in url mode, the webhook and a null handler as
 * separate processes, wrk (HTTP/1.1) and h2load (HTTP/2) as load generators in their own processes.
 *
 *   scripts/bench.sh                      # everything (about 10 minutes)
 *   scripts/bench.sh --only throughput,e2e --seconds 3 --sizes 50,500
 *
 * Prints a table and writes bench/results/<timestamp>.json (and latest.json); the captured
 * AdmissionReviews go to bench/results/fixtures/. See docs/benchmarks.md.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import http2 from 'node:http2'
import https from 'node:https'
import { stringify as toYaml } from 'yaml'
import { startControlPlane } from '../test/harness/control-plane.js'
import { startRegistry } from '../test/harness/registry.js'
import { pushSampleImages, WASM_MODULE, type SampleImage, type SampleName } from '../test/harness/sample-images.js'
import { Pusher, bytesOf } from '../test/harness/push.js'
import { readVersionsEnv, toolPaths, toolVersions } from '../test/harness/tools.js'
import { issueServingCert, makeCa } from '../test/helpers/tls.js'
import { startApiserverProxy, startCountingProxy } from '../test/perf/proxies.js'
import { startCapture } from './lib/capture.js'
import { createNodes, Kube, parallel, runtimeClasses } from './lib/kube.js'
import { h2load, wrk, type LoadResult } from './lib/load.js'
import { MAP_IMAGE_PATTERN, MAP_RUNTIME_CLASS, mutatingAdmissionPolicy } from './lib/policy.js'
import { objectsBackend, podCreateRounds, spread, type PodCreateBackend } from './lib/pod-create.js'
import { idleCpuRates, metered, perPod, procMemory, type Metered } from './lib/metered.js'
import { apiserverSeries } from './lib/apiserver-metrics.js'
import jsonpatch from 'fast-json-patch'
import { procCpuSeconds, run, waitFor } from './lib/proc.js'
import { r2, summarize, type Summary } from './lib/stats.js'
import { BARE_NULL_SERVER, REPO_ROOT, shippedMallocEnv, shippedNodeOptions, startNullServer, startWebhook, type NullProc, type WebhookProc } from './lib/webhook.js'
import { kyvernoPolicy, kyvernoTools, startKyverno, type KyvernoProc } from './peers/kyverno.js'
import { denialCases, sampleCases, sideBySide, sideBySideTable } from './peers/side-by-side.js'

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2)
/** Options with a value, and switches; anything else is refused before a run starts (a full run is ~20 min). */
const VALUE_OPTIONS = ['only', 'seconds', 'sizes', 'e2e-pods', 'concurrent', 'fixtures', 'rounds', 'rate', 'modes', 'webhook-args', 'node-args', 'node-options', 'malloc-env', 'peers', 'slow-patch-floor']
const SWITCHES = ['bare-floor', 'min-patch-floor']
const USAGE = `usage: scripts/bench.sh [--only throughput,registry,e2e,scale] [--rounds N] [--seconds N] [--fixtures a,b]
  [--sizes 50,500,5000] [--e2e-pods N] [--concurrent N] [--rate N] [--modes h1,h2,h2-rate] [--webhook-args "..."] [--node-args "..."] [--node-options "..."|none] [--malloc-env none]
  [--peers kyverno] [--slow-patch-floor MS] [--bare-floor] [--min-patch-floor]     (docs/benchmarks.md)`
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!
  if (a === '--help' || a === '-h') {
    console.log(USAGE)
    process.exit(0)
  }
  if (a.startsWith('--') && VALUE_OPTIONS.includes(a.slice(2)) && i + 1 < argv.length) i++
  else if (!(a.startsWith('--') && SWITCHES.includes(a.slice(2)))) {
    console.error(`bench: unknown option or missing value: ${a}\n${USAGE}`)
    process.exit(2)
  }
}
const flag = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def
}
const SECTIONS = flag('only', 'throughput,registry,e2e,scale').split(',')
const SECONDS = Number(flag('seconds', '5'))
const SIZES = flag('sizes', '50,500,5000').split(',').map(Number)
/** Pods per backend per round (pod CREATE) */
const E2E_PODS = Number(flag('e2e-pods', '200'))
/** Alternating rounds (A, B, A, B, ...): every ratio is the median over the rounds, with min-max. */
const ROUNDS = Number(flag('rounds', '5'))
/** Also measure node's bare HTTP/2 server (bench/bare-null-server.mjs) in the throughput rounds. */
const BARE_FLOOR = argv.includes('--bare-floor')
const CONCURRENT = Number(flag('concurrent', '1000'))
/** Pod CREATE: also the null webhooks answering the smallest patch (one annotation), beside the patch floor. */
const MIN_PATCH_FLOOR = argv.includes('--min-patch-floor')
/** Pod CREATE: also the patch floor answering every review this many ms late (a timer: latency without CPU). */
const SLOW_PATCH_FLOOR_MS = Number(flag('slow-patch-floor', '0'))
/** Peers measured beside wasm-admission in the pod-CREATE rounds, plus a correctness side by side: `kyverno` (docs/comparison.md). */
const PEERS = flag('peers', '').split(',').filter((p) => p !== '')
for (const p of PEERS) if (p !== 'kyverno') throw new Error(`--peers: unknown peer ${p} (known: kyverno)`)
const FIXTURES = flag('fixtures', '').split(',').filter((f) => f !== '')
/** Fixtures of the throughput section unless --fixtures says otherwise (the targets are on the 1-container ones). */
const DEFAULT_FIXTURES = ['wasm-1', 'linux-1', 'wasm-10', 'linux-10']
const WEBHOOK_NODE_ARGS = flag('node-args', '').split(' ').filter((a) => a !== '')
/** Extra flags of `serve`, e.g. `--drift` (the chart's default, off in the bench unless given). */
const WEBHOOK_ARGS = flag('webhook-args', '').split(' ').filter((a) => a !== '')
/** NODE_OPTIONS of the webhook: the shipped default (the chart's deployment.nodeOptions, also the image's ENV), or `none`. */
const NODE_OPTIONS_FLAG = flag('node-options', shippedNodeOptions())
const WEBHOOK_NODE_OPTIONS = NODE_OPTIONS_FLAG === 'none' ? '' : NODE_OPTIONS_FLAG
/** The webhook's glibc malloc environment: the shipped default (the chart's deployment.mallocEnv, also the image's ENV), or `none` (glibc's defaults). */
const WEBHOOK_MALLOC_ENV = flag('malloc-env', 'shipped') === 'none' ? {} : shippedMallocEnv()
const H1_CONNS = 16
const H2_CONNS = 2
const H2_STREAMS = 16
/** Fixed-rate latency runs: h2load, this many HTTP/2 connections x this many requests/s each. */
const RATE_CONNS = 4
const RATE_PER_CONN = Number(flag('rate', '250'))
/** Loads of the throughput section: h1 and h2 saturate the server, h2-rate runs at a fixed rate (default: all three). */
const MODES = flag('modes', 'h1,h2,h2-rate').split(',')
for (const m of MODES) if (!['h1', 'h2', 'h2-rate'].includes(m)) throw new Error(`--modes: unknown load ${m} (known: h1, h2, h2-rate)`)

const MUTATING_CONFIGS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'
const VALIDATING_CONFIGS = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'

const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`)

// ------------------------------------------------------------------ results

const results: Record<string, any> = {
  date: new Date().toISOString(),
  machine: {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? '?',
    memTotalGB: r2(totalmem() / 2 ** 30),
    memFreeGBAtStart: r2(freemem() / 2 ** 30),
    loadAvgAtStart: loadavg().map(r2),
    node: process.version,
    kubernetes: toolVersions().k8s,
    etcd: toolVersions().etcd,
    // `wrk -v` prints its version and exits 1
    wrk: safe(() => spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim()),
    h2load: safe(() => execFileSync('h2load', ['--version'], { encoding: 'utf8' }).trim()),
    otherProcesses: safe(() => execFileSync('sh', ['-c', "pgrep -af 'kube-apiserver|etcd|tap|wrk|h2load' | grep -v pgrep | cut -c1-120 || true"], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)),
  },
  options: { peers: PEERS, sections: SECTIONS, seconds: SECONDS, rounds: ROUNDS, bareFloor: BARE_FLOOR, sizes: SIZES, e2ePods: E2E_PODS, concurrent: CONCURRENT, h1: { connections: H1_CONNS }, h2: { connections: H2_CONNS, streams: H2_STREAMS }, webhookNodeArgs: WEBHOOK_NODE_ARGS, webhookNodeOptions: WEBHOOK_NODE_OPTIONS, webhookMallocEnv: WEBHOOK_MALLOC_ENV, minPatchFloor: MIN_PATCH_FLOOR, slowPatchFloorMs: SLOW_PATCH_FLOOR_MS },
}

function safe<T>(f: () => T): T | string {
  try {
    return f()
  } catch (e) {
    return `unavailable: ${(e as Error).message.split('\n')[0]}`
  }
}

// ------------------------------------------------------------------ environment

const dir = mkdtempSync(join(tmpdir(), 'wasm-admission-bench-'))
const resultsDir = join(REPO_ROOT, 'bench/results')
const fixturesDir = join(resultsDir, 'fixtures')
mkdirSync(fixturesDir, { recursive: true })
const cleanups: Array<() => Promise<unknown> | unknown> = []
const cleanup = async (): Promise<void> => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
}

async function main(): Promise<void> {
  log(`temp dir ${dir}`)
  // Peers' tools first: a cold Kyverno build is set-up (>= 10 min of CPU), reported apart.
  const kyTools = PEERS.includes('kyverno') ? kyvernoTools() : null
  if (kyTools) results.peers = { kyverno: { binary: kyTools.kyverno, buildToolsSeconds: r2(kyTools.buildSeconds) } }
  const ca = makeCa('wasm-admission-bench-ca')
  cleanups.push(() => rmSync(ca.dir, { recursive: true, force: true }))
  const tlsDir = join(dir, 'tls')
  issueServingCert(ca, tlsDir, 'wasm-admission')
  writeFileSync(join(dir, 'ca.crt'), ca.caPem)

  log('starting etcd + kube-apiserver and docker-registry')
  // MutatingAdmissionPolicy: GA and on by default in v1.36 (feature gate MutatingAdmissionPolicy:
  // GA, default true from 1.36 in k8s.io/apiserver pkg/features/kube_features.go; served as
  // admissionregistration.k8s.io/v1 by pkg/registry/admissionregistration/rest/storage_apiserver.go).
  // Both are set explicitly so the bench does not depend on a default.
  const [cp, registry] = await Promise.all([startControlPlane({ apiserverArgs: ['--runtime-config=admissionregistration.k8s.io/v1=true', '--feature-gates=MutatingAdmissionPolicy=true'] }), startRegistry()])
  cleanups.push(() => cp.stop(), () => registry.stop())
  const regProxy = await startCountingProxy({ host: '127.0.0.1', port: registry.port })
  cleanups.push(() => regProxy.stop())
  const apiProxy = await startApiserverProxy(cp)
  cleanups.push(() => apiProxy.stop())

  log('pushing sample images')
  await pushSampleImages(registry.host, { only: ['spin-scratch', 'linux'] })
  for (let k = 1; k <= 10; k++) await pushSampleImages(registry.host, { only: ['spin-v2', 'linux'], tag: `t${k}` })
  // every packaging style, for the correctness side by side with the peers
  const samples: Record<SampleName, SampleImage> | null = PEERS.length > 0 ? await pushSampleImages(registry.host) : null
  const img = (repo: string, tag: string): string => `${regProxy.host}/samples/${repo}:${tag}`

  const kube = new Kube(cp.kubeconfigPath, cp.server)
  cleanups.push(() => kube.close())
  log('creating 50 RuntimeClasses, namespaces')
  await parallel(runtimeClasses(), 8, async (rc) => void (await kube.must('POST', '/apis/node.k8s.io/v1/runtimeclasses', rc)))
  for (const ns of ['bench', 'e2e']) await kube.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
  let nodes = 0
  const growTo = async (n: number): Promise<number> => {
    if (n <= nodes) return 0
    log(`creating nodes ${nodes}..${n}`)
    const ms = await createNodes(kube, nodes, n)
    log(`  ${n - nodes} nodes in ${Math.round(ms)} ms (${Math.round(((n - nodes) * 3) / (ms / 1000))} requests/s)`)
    nodes = n
    return ms
  }
  await growTo(SIZES[0] ?? 50)

  const registryConfig = join(dir, 'registry-config.yaml')
  writeFileSync(registryConfig, toYaml({ plainHttp: [regProxy.host], allowHosts: ['127.0.0.0/8'] }))
  const webhookArgs = { dir, tlsDir, kubeconfig: apiProxy.kubeconfigPath, registryConfig, nodeArgs: WEBHOOK_NODE_ARGS, nodeOptions: WEBHOOK_NODE_OPTIONS, env: WEBHOOK_MALLOC_ENV, extraArgs: WEBHOOK_ARGS }

  // helm, url mode
  const helmHome = join(dir, 'helm')
  for (const d of ['config', 'cache', 'data']) mkdirSync(join(helmHome, d), { recursive: true })
  const helmEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: helmHome, HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_DATA_HOME: join(helmHome, 'data'), KUBECONFIG: cp.kubeconfigPath }
  const helm = async (verb: 'install' | 'upgrade', url: string): Promise<void> => {
    const r = await run(toolPaths().helm, [verb, 'wasm-admission', join(REPO_ROOT, 'charts/wasm-admission'), '-n', 'wasm-admission', ...(verb === 'install' ? ['--create-namespace'] : ['--reuse-values']), '--set', 'deployment.enabled=false', '--set', `webhook.url=${url}`, '--set', 'certificates.mode=provided', '--set-file', `certificates.caBundle=${join(dir, 'ca.crt')}`], { env: helmEnv })
    if (r.code !== 0) throw new Error(`helm ${verb}: ${r.stderr}${r.stdout}`)
  }

  // ---------------------------------------------------------------- capture AdmissionReviews
  const capture = await startCapture(tlsDir)
  cleanups.push(() => capture.stop())
  log(`capturing AdmissionReviews from the real apiserver (chart in url mode -> ${capture.url})`)
  await helm('install', capture.url)
  const podOf = (name: string, images: string[]): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name, 'app.kubernetes.io/part-of': 'bench' }, annotations: { 'example.com/owner': 'team-a' } },
    spec: {
      containers: images.map((image, k) => ({
        name: `c${k}`,
        image,
        ports: [{ containerPort: 8080 + k }],
        env: [{ name: 'RUST_LOG', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
      })),
    },
  })
  const variants: Array<{ name: string; images: string[] }> = []
  for (const n of [1, 3, 10]) {
    variants.push({ name: `wasm-${n}`, images: n === 1 ? [img('spin-scratch', 'v1')] : Array.from({ length: n }, (_, k) => img('spin-v2', `t${k + 1}`)) })
    variants.push({ name: `linux-${n}`, images: Array.from({ length: n }, (_, k) => img('linux', `t${k + 1}`)) })
  }
  await waitFor('the apiserver to call the capturing webhook', async () => {
    await kube.req('POST', '/api/v1/namespaces/bench/pods?dryRun=All', podOf('probe', [img('linux', 'v1')]))
    return capture.bodies.has('mutate/probe')
  })
  const fixtures: Record<string, { mutate: string; validate: string }> = {}
  for (const v of variants) {
    await kube.must('POST', '/api/v1/namespaces/bench/pods', podOf(v.name, v.images))
    const mutate = capture.bodies.get(`mutate/${v.name}`)
    const validate = capture.bodies.get(`validate/${v.name}`)
    if (!mutate || !validate) throw new Error(`no captured review for ${v.name}`)
    fixtures[v.name] = { mutate, validate }
    writeFileSync(join(fixturesDir, `${v.name}.mutate.json`), mutate)
    writeFileSync(join(fixturesDir, `${v.name}.validate.json`), validate)
  }
  results.fixtures = Object.fromEntries(Object.entries(fixtures).map(([k, f]) => [k, { mutateBytes: f.mutate.length, validateBytes: f.validate.length }]))
  await capture.stop()

  // ---------------------------------------------------------------- webhook + floor
  let webhook: WebhookProc = await startWebhook(webhookArgs)
  cleanups.push(() => webhook.stop())
  // Same V8 flags as the webhook: the ratio then compares the work per review, not heap settings.
  const nullSrv = await startNullServer(dir, tlsDir, ca.caPem, WEBHOOK_NODE_OPTIONS)
  cleanups.push(() => nullSrv.stop())
  let bareSrv: NullProc | undefined
  if (BARE_FLOOR) {
    bareSrv = await startNullServer(dir, tlsDir, ca.caPem, WEBHOOK_NODE_OPTIONS, BARE_NULL_SERVER)
    cleanups.push(() => bareSrv!.stop())
  }
  const h1agent = new https.Agent({ keepAlive: true, ca: ca.caPem, maxSockets: 64 })
  cleanups.push(() => h1agent.destroy())
  const post1 = (url: string, path: string, body: string): Promise<{ ms: number; status: number; body: any }> => {
    const started = performance.now()
    return new Promise((resolve, reject) => {
      const req = https.request(url + path, { method: 'POST', agent: h1agent, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }))
      })
      req.on('error', reject)
      req.end(body)
    })
  }
  const warm = async (wh: WebhookProc): Promise<void> => {
    for (const [name, f] of Object.entries(fixtures)) {
      const r = await post1(wh.url, '/mutate', f.mutate)
      if (r.status !== 200 || !r.body.response?.allowed) throw new Error(`warm-up ${name}: ${JSON.stringify(r.body)}`)
      if (name.startsWith('wasm') && !r.body.response.patch) throw new Error(`warm-up ${name}: no patch: ${JSON.stringify(r.body)}`)
      await post1(wh.url, '/validate', f.validate)
    }
  }
  const apiCalls = (): number => apiProxy.count((r) => !r.watch)
  await warm(webhook)

  // ---------------------------------------------------------------- 1. throughput vs floor
  if (SECTIONS.includes('throughput')) {
    const names = Object.keys(fixtures).filter((n) => (FIXTURES.length > 0 ? FIXTURES : DEFAULT_FIXTURES).includes(n))
    log(`throughput: ${names.join(', ')} x (HTTP/1.1 wrk -c${H1_CONNS}, HTTP/2 h2load -c${H2_CONNS} -m${H2_STREAMS}, HTTP/2 at ${RATE_CONNS * RATE_PER_CONN} req/s) x ${ROUNDS} alternating rounds of (null, webhook), ${SECONDS} s each`)
    const apiBefore = apiCalls()
    const apiSeenBefore = apiProxy.requests.length
    const regBefore = regProxy.count()
    const admittedBefore = await webhook.metric('wasm_admission_requests_total')
    const rows: any[] = []
    const rateRows: any[] = []
    for (const name of names) {
      const f = fixtures[name]!
      const modes = [
        ['h1', (url: string) => wrk({ url: url + '/mutate', body: f.mutate, seconds: SECONDS, connections: H1_CONNS, warmupSeconds: 1 })],
        ['h2', (url: string) => h2load({ url: url + '/mutate', body: f.mutate, seconds: SECONDS, connections: H2_CONNS, streams: H2_STREAMS, warmupSeconds: 1 })],
        // Latency below saturation, at a fixed request rate (closer to an apiserver's traffic).
        ['h2-rate', (url: string) => h2load({ url: url + '/mutate', body: f.mutate, seconds: SECONDS, connections: RATE_CONNS, streams: 1, rps: RATE_PER_CONN, warmupSeconds: 1 })],
      ] as const
      for (const [mode, load] of modes.filter(([m]) => MODES.includes(m))) {
        const loads: Record<string, () => Promise<LoadResult>> = {
          null: () => withCpu(nullSrv.child.pid, nullSrv.count, () => load(nullSrv.url)),
          webhook: () => withCpu(webhook.child.pid, () => webhook.metric('wasm_admission_requests_total'), () => load(webhook.url)),
        }
        if (bareSrv) loads['bare'] = () => withCpu(bareSrv.child.pid, bareSrv.count, () => load(bareSrv.url))
        const a = (await alternate(ROUNDS, loads)) as Record<'null' | 'webhook', LoadResult[]> & Record<string, LoadResult[]> & { loadAvg1: number[] }
        const row = {
          fixture: name,
          proto: mode === 'h1' ? 'h1' : 'h2',
          bodyBytes: f.mutate.length,
          rounds: ROUNDS,
          null: medianOf(a.null),
          webhook: medianOf(a.webhook),
          perRound: { null: a.null.map(pick), webhook: a.webhook.map(pick), loadAvg1: a.loadAvg1 },
          ratio: {
            throughput: spread(a.webhook.map((w, i) => w.rps / a.null[i]!.rps)),
            p50: spread(a.webhook.map((w, i) => w.p50 / a.null[i]!.p50)),
            p99: spread(a.webhook.map((w, i) => w.p99 / a.null[i]!.p99)),
            cpuPerReview: spread(a.webhook.map((w, i) => w.cpuUsPerReview! / a.null[i]!.cpuUsPerReview!)),
          },
          ...(a['bare']
            ? {
                bare: medianOf(a['bare']),
                bareRatio: {
                  nullThroughput: spread(a.null.map((n, i) => n.rps / a['bare']![i]!.rps)),
                  webhookThroughput: spread(a.webhook.map((w, i) => w.rps / a['bare']![i]!.rps)),
                  nullCpu: spread(a.null.map((n, i) => n.cpuUsPerReview! / a['bare']![i]!.cpuUsPerReview!)),
                },
              }
            : {}),
        }
        const sp = (x: { median: number; min: number; max: number }): string => `x${x.median} [${x.min}-${x.max}]`
        if (mode === 'h2-rate') {
          rateRows.push({ ...row, rps: RATE_CONNS * RATE_PER_CONN })
          log(`  ${name} h2 at ${RATE_CONNS * RATE_PER_CONN} req/s: null p50 ${row.null.p50} p99 ${row.null.p99} ms | webhook p50 ${row.webhook.p50} p99 ${row.webhook.p99} ms | p99 ${sp(row.ratio.p99)}, CPU/review ${row.null.cpuUsPerReview} vs ${row.webhook.cpuUsPerReview} us ${sp(row.ratio.cpuPerReview)} (load ${a.loadAvg1.join(' ')})`)
        } else {
          rows.push(row)
          if (row.bare) log(`  ${name} ${mode}: bare node:http2 ${row.bare.rps} req/s, CPU/review ${row.bare.cpuUsPerReview} us | null/bare thr ${sp(row.bareRatio!.nullThroughput)}, CPU ${sp(row.bareRatio!.nullCpu)} | webhook/bare thr ${sp(row.bareRatio!.webhookThroughput)}`)
          log(`  ${name} ${mode}: null ${row.null.rps} req/s p99 ${row.null.p99} ms | webhook ${row.webhook.rps} req/s p99 ${row.webhook.p99} ms | thr ${sp(row.ratio.throughput)}, p99 ${sp(row.ratio.p99)}, CPU/review ${row.null.cpuUsPerReview} vs ${row.webhook.cpuUsPerReview} us ${sp(row.ratio.cpuPerReview)} (load ${a.loadAvg1.join(' ')})`)
        }
      }
    }
    const admitted = (await webhook.metric('wasm_admission_requests_total')) - admittedBefore
    results.throughput = {
      rows,
      fixedRate: rateRows,
      admissions: admitted,
      apiserverNonWatchRequestsDuring: apiCalls() - apiBefore,
      /** Which ones (method, path, seconds after the section started): to tell re-lists from per-admission calls. */
      apiserverNonWatchRequests: apiProxy.requests.slice(apiSeenBefore).filter((r) => !r.watch).map((r) => `${r.method} ${r.path}?${r.query.toString()}`),
      registryRequestsDuring: regProxy.count() - regBefore,
    }
  }

  // ---------------------------------------------------------------- 4. end to end (pod CREATE)
  if (SECTIONS.includes('e2e')) {
    log(`end to end: pod CREATE through the apiserver, ${ROUNDS} alternating rounds x ${E2E_PODS} pods per backend`)
    // The chart's own two configurations (helm, url mode), read back from the apiserver: every backend
    // that is a webhook is registered from these objects, so failure policies, timeouts, reinvocation,
    // selectors and match conditions are the chart's, not a copy that can drift.
    await helm('upgrade', webhook.url)
    const wasmProbe = async (): Promise<any> => (await kube.req('POST', '/api/v1/namespaces/e2e/pods?dryRun=All', podOf('probe', [img('spin-scratch', 'v1')]))).body
    const linuxProbe = async (): Promise<any> => (await kube.req('POST', '/api/v1/namespaces/e2e/pods?dryRun=All', podOf('probe', [img('linux', 'v1')]))).body
    await waitFor('the apiserver to call the webhook', async () => typeof (await wasmProbe()).spec?.runtimeClassName === 'string')
    const chartConfigs: Array<{ path: string; obj: any }> = []
    for (const path of [MUTATING_CONFIGS, VALIDATING_CONFIGS]) {
      const list = (await kube.must('GET', `${path}?labelSelector=${encodeURIComponent('app.kubernetes.io/instance=wasm-admission')}`)).body
      for (const o of list.items) {
        for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation', 'ownerReferences']) delete o.metadata[k]
        chartConfigs.push({ path, obj: o })
      }
    }
    if (chartConfigs.length !== 2) throw new Error(`expected 2 webhook configurations from the chart, found ${chartConfigs.length}`)
    // Protocol: the apiserver speaks HTTP/2 to a URL webhook on a loopback address or "localhost"
    // (k8s.io/apiserver pkg/util/webhook/client.go isLocalHost), HTTP/1.1 to any other URL and to
    // every Service webhook (NextProtos http/1.1, kubernetes#75791). Every webhook backend here is
    // on 127.0.0.1, so all of them are called over one HTTP/2 session (the null server counts it);
    // in a cluster the same calls go over kept-alive HTTP/1.1 connections.
    for (const { path, obj } of chartConfigs) await kube.must('DELETE', `${path}/${obj.metadata.name}`)
    /** The chart's configurations with every clientConfig.url moved to `base` (path kept) and a name prefix. */
    const retarget = (base: string, prefix: string): Array<{ path: string; obj: any }> =>
      chartConfigs.map(({ path, obj }) => {
        const o = structuredClone(obj)
        o.metadata.name = `${prefix}${o.metadata.name}`
        for (const w of o.webhooks) w.clientConfig.url = base + new URL(w.clientConfig.url).pathname
        return { path, obj: o }
      })
    const rcOf = async (): Promise<string | undefined> => (await wasmProbe()).spec?.runtimeClassName
    /** Reviews a probe pod causes at a backend (count before/after one dry-run CREATE). */
    const callsPerProbe = async (count: () => Promise<number>): Promise<number> => {
      const before = await count()
      await wasmProbe()
      return (await count()) - before
    }
    const webhookCount = (): Promise<number> => webhook.metric('wasm_admission_requests_total')
    // The patch floor: the JSON patch wasm-admission answers for the rounds' pod (a Spin image, warm
    // cache), served as a constant by the null server under /patch: what applying a mutation costs the
    // apiserver, apart from the handler's work.
    const floorReview = JSON.parse(fixtures['wasm-1']!.mutate)
    const floorAnswer = (await post1(webhook.url, '/mutate', JSON.stringify(floorReview))).body
    const floorPatch = floorAnswer.response?.patch ? JSON.parse(Buffer.from(floorAnswer.response.patch, 'base64').toString('utf8')) : []
    if (!Array.isArray(floorPatch) || floorPatch.length === 0) throw new Error(`no patch from wasm-admission for the wasm-1 review: ${JSON.stringify(floorAnswer).slice(0, 300)}`)
    await nullSrv.setPatch(floorPatch)
    await nullSrv.setSlowMs(SLOW_PATCH_FLOOR_MS)
    log(`  patch floor: ${JSON.stringify(floorPatch)}`)
    // what wasm-admission answers to the apiserver for the rounds' pod (both reviews), for the record
    // (the validating review of the pod as the apiserver sends it: the captured one, mutated by the patch)
    const validateReview = JSON.parse(fixtures['wasm-1']!.validate)
    validateReview.request.object = jsonpatch.applyPatch(validateReview.request.object, floorPatch, false, false).newDocument
    const answers = { mutate: floorAnswer, validate: (await post1(webhook.url, '/validate', JSON.stringify(validateReview))).body }
    log(`  wasm-admission's answers: ${JSON.stringify(answers)}`)
    /** The chart's configurations pointed at the null server (allows, no patch), registered under `prefix`. */
    const nullWebhooks = (name: string, describe: string, prefix: string, createPod?: () => Promise<number>): PodCreateBackend =>
      objectsBackend(kube, {
        name,
        describe,
        objects: retarget(nullSrv.url, prefix),
        active: async () => (await callsPerProbe(nullSrv.count)) >= 2,
        inactive: async () => (await callsPerProbe(nullSrv.count)) === 0,
        ...(createPod ? { createPod } : {}),
      })
    const backends: PodCreateBackend[] = [
      { name: 'none', describe: 'no admission webhook or policy (the built-in RuntimeClass plugin only)', install: async () => {}, uninstall: async () => {}, active: async () => (await rcOf()) === undefined, inactive: async () => true },
      nullWebhooks('null-webhooks', "the chart's mutating + validating configurations pointed at bench/null-server.mjs (allows, no patch)", 'null-'),
      objectsBackend(kube, {
        name: 'null-webhooks-patch',
        describe: "the same null webhooks, the mutating one answering wasm-admission's patch for the pod as a constant (bench/null-server.mjs /patch)",
        objects: retarget(`${nullSrv.url}/patch`, 'nullpatch-'),
        active: async () => (await callsPerProbe(nullSrv.count)) >= 2 && typeof (await rcOf()) === 'string',
        inactive: async () => (await callsPerProbe(nullSrv.count)) === 0 && (await rcOf()) === undefined,
      }),
      ...(SLOW_PATCH_FLOOR_MS > 0
        ? [
            objectsBackend(kube, {
              name: 'null-webhooks-patch-slow',
              describe: `the patch floor with every answer sent ${SLOW_PATCH_FLOOR_MS} ms late (a timer, no CPU; bench/null-server.mjs /patch-slow)`,
              objects: retarget(`${nullSrv.url}/patch-slow`, 'nullslow-'),
              active: async () => (await callsPerProbe(nullSrv.count)) >= 2 && typeof (await rcOf()) === 'string',
              inactive: async () => (await callsPerProbe(nullSrv.count)) === 0 && (await rcOf()) === undefined,
            }),
          ]
        : []),
      ...(MIN_PATCH_FLOOR
        ? [
            objectsBackend(kube, {
              name: 'null-webhooks-min-patch',
              describe: 'the same null webhooks, the mutating one answering the smallest patch (one annotation added; bench/null-server.mjs /patch-min)',
              objects: retarget(`${nullSrv.url}/patch-min`, 'nullmin-'),
              active: async () => (await callsPerProbe(nullSrv.count)) >= 2 && (await wasmProbe()).metadata?.annotations?.['bench-floor'] === 'x',
              inactive: async () => (await callsPerProbe(nullSrv.count)) === 0 && (await wasmProbe()).metadata?.annotations?.['bench-floor'] === undefined,
            }),
          ]
        : []),
      objectsBackend(kube, {
        name: 'mutating-admission-policy',
        describe: `in-process MutatingAdmissionPolicy (CEL, admissionregistration.k8s.io/v1): runtimeClassName ${MAP_RUNTIME_CLASS} for images matching ${MAP_IMAGE_PATTERN}, then the RuntimeClass plugin`,
        objects: mutatingAdmissionPolicy(chartConfigs.find((c) => c.path === MUTATING_CONFIGS)!.obj.webhooks[0]),
        active: async () => (await rcOf()) === MAP_RUNTIME_CLASS,
        inactive: async () => (await rcOf()) === undefined,
      }),
      objectsBackend(kube, {
        name: 'wasm-admission',
        describe: "the chart's configurations (url mode) -> dist/src/cli.js serve",
        objects: chartConfigs,
        active: async () => (await callsPerProbe(webhookCount)) >= 2 && typeof (await rcOf()) === 'string',
        inactive: async () => (await callsPerProbe(webhookCount)) === 0 && (await rcOf()) === undefined,
      }),
      // The same two, creating a Linux pod instead: what every other pod of a cluster pays for the
      // add-on (both webhooks are called, nothing is patched), against the null webhooks.
      nullWebhooks('null-webhooks-linux', 'the null webhooks, creating a Linux pod (samples/linux) instead of the Wasm pod', 'nulllinux-', () => createLinuxPod()),
      objectsBackend(kube, {
        name: 'wasm-admission-linux',
        describe: "wasm-admission (the chart's configurations), creating a Linux pod (allowed unchanged: no patch)",
        objects: chartConfigs,
        // the Linux pod's dry run warms the webhook's image cache for the Linux image before the round
        active: async () => (await linuxProbe()).spec?.runtimeClassName === undefined && (await callsPerProbe(webhookCount)) >= 2 && typeof (await rcOf()) === 'string',
        inactive: async () => (await callsPerProbe(webhookCount)) === 0 && (await rcOf()) === undefined,
        createPod: () => createLinuxPod(),
      }),
    ]
    const LINUX_BACKENDS = new Set(['null-webhooks-linux', 'wasm-admission-linux'])
    // ---- peers: Kyverno (bench/peers/kyverno.ts), running the whole time; registered = its policy exists
    let ky: KyvernoProc | null = null
    const mpol = kyvernoPolicy('mutatingpolicy.yaml')
    const vpol = kyvernoPolicy('validatingpolicy.yaml')
    const cpol = kyvernoPolicy('clusterpolicy.yaml')
    if (kyTools) {
      log('starting Kyverno (CRDs, namespace, out-of-cluster process, its webhook configurations)')
      const started = performance.now()
      ky = await startKyverno({ tools: kyTools, kube, kubectl: (a) => cp.kubectl(a), kubeconfig: cp.kubeconfigPath, dir, probePolicy: mpol })
      cleanups.push(() => ky?.stop())
      results.peers.kyverno.startMs = Math.round(performance.now() - started)
      results.peers.kyverno.readyMs = Math.round(ky.readyMs)
      const kyCount = (): Promise<number> => ky!.admissionRequests()
      backends.push(
        objectsBackend(kube, {
          name: 'kyverno',
          describe: `Kyverno ${readVersionsEnv().KYVERNO_VERSION} out of cluster, CEL MutatingPolicy bench/peers/kyverno/mutatingpolicy.yaml (image.GetMetadata per container)`,
          objects: [mpol],
          active: async () => typeof (await rcOf()) === 'string' && (await callsPerProbe(kyCount)) >= 1,
          inactive: async () => (await rcOf()) === undefined && (await callsPerProbe(kyCount)) === 0,
        }),
        objectsBackend(kube, {
          name: 'kyverno-clusterpolicy',
          describe: `the same Kyverno, deprecated ClusterPolicy form bench/peers/kyverno/clusterpolicy.yaml (imageRegistry context, JMESPath)`,
          objects: [cpol],
          active: async () => typeof (await rcOf()) === 'string' && (await callsPerProbe(kyCount)) >= 1,
          inactive: async () => (await rcOf()) === undefined && (await callsPerProbe(kyCount)) === 0,
        }),
      )
    }
    // Per-backend costs: CPU of each process and registry requests between a round's brackets.
    const pids = (): Record<string, number | undefined> => ({
      'kube-apiserver': cp.pids()['kube-apiserver'],
      etcd: cp.pids().etcd,
      'wasm-admission': webhook.child.pid,
      'null-server': nullSrv.child.pid,
      ...(ky ? { kyverno: ky.pid } : {}),
      // the pods' client (this process: 4 concurrent HTTPS clients of the apiserver)
      'bench-client': process.pid,
    })
    const meteredBackends: Array<Metered<PodCreateBackend>> = backends.map((b) => metered(b, { pids, registryRequests: () => regProxy.count(), counters: () => apiserverSeries(kube) }, E2E_PODS))
    let podSeq = 0
    const createPodOf = async (image: string): Promise<number> => {
      const a = await kube.req('POST', '/api/v1/namespaces/e2e/pods', podOf(`e2e-${podSeq++}`, [image]))
      if (a.status !== 201) throw new Error(`pod create: HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`)
      return a.ms
    }
    const createPod = (): Promise<number> => createPodOf(img('spin-scratch', 'v1'))
    const createLinuxPod = (): Promise<number> => createPodOf(img('linux', 'v1'))
    for (let k = 0; k < 50; k++) await createPod() // warm the apiserver (connections, caches)
    // What each process spends with nothing asked of it (the apiserver's own loops, etcd, timers):
    // charged to the rounds by their wall time, it is subtracted in the "net" CPU per pod.
    const idleRates = await idleCpuRates(pids(), 10)
    const before = await webhookCount()
    const nullConnsBefore = await nullSrv.connections()
    const podsBefore = podSeq
    const wasmPodBackends = backends.filter((b) => !LINUX_BACKENDS.has(b.name))
    const e2e = await podCreateRounds({
      backends: meteredBackends.map((m) => m.backend),
      rounds: ROUNDS,
      pods: E2E_PODS,
      concurrency: 4,
      createPod,
      // every Wasm-pod backend against every one listed before it (the floors come first); the Linux
      // pod's backends against each other and against no webhook
      pairs: [
        ...wasmPodBackends.flatMap((a, i) => wasmPodBackends.slice(0, i).map((b) => [a.name, b.name] as [string, string])),
        ['wasm-admission-linux', 'null-webhooks-linux'],
        ['null-webhooks-linux', 'none'],
        ['wasm-admission-linux', 'none'],
      ],
      log,
    })
    const wasmPods = e2e.backends['wasm-admission']!.pooled.n + e2e.backends['wasm-admission-linux']!.pooled.n
    const calls = (await webhookCount()) - before
    results.e2e = { ...e2e, webhookCalls: calls, webhookCallsPerPod: r2(calls / wasmPods), probeCallsIncluded: true, podsCreated: podSeq - podsBefore }
    results.e2e.costs = Object.fromEntries(meteredBackends.map((m) => [m.backend.name, perPod(m.rounds, idleRates)]))
    results.e2e.idleCpuMsPerSecond = Object.fromEntries(Object.entries(idleRates).map(([k, v]) => [k, r2(v * 1000)]))
    results.e2e.floorPatch = floorPatch
    results.e2e.wasmAdmissionAnswers = answers
    const nullConnsAfter = await nullSrv.connections()
    // Whether the apiserver keeps its connections to a webhook: new TLS connections / HTTP/2 sessions at the null server over the rounds
    results.e2e.nullServerConnectionsDuringRounds = { tls: nullConnsAfter.tls - nullConnsBefore.tls, h2: nullConnsAfter.h2 - nullConnsBefore.h2, reviews: nullConnsAfter.reviews - nullConnsBefore.reviews, h2Reviews: nullConnsAfter.h2Reviews - nullConnsBefore.h2Reviews }
    results.e2e.memory = Object.fromEntries(Object.entries(pids()).flatMap(([k, pid]) => (pid === undefined ? [] : [[k, roundAll(procMemory(pid))]])))
    if (ky) results.peers.kyverno.admissionRequests = await ky.admissionRequests()

    // ---- correctness side by side (peers only): every sample image and the denial cases, dry-run
    if (ky && samples) {
      log('correctness side by side: every sample image and the denial cases, one backend at a time (dry-run)')
      const viaProxy = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { ...v, ref: v.ref.replace(registry.host, regProxy.host) }])) as Record<SampleName, SampleImage>
      const cases = [...sampleCases(viaProxy), ...denialCases(viaProxy, { shimlessNode: 'node-00001', wasmClass: 'spin-test' })]
      const classes = Object.fromEntries(runtimeClasses().map((r: any) => [r.metadata.name, { handler: r.handler, nodeSelector: r.scheduling?.nodeSelector ?? {} }]))
      const linuxUnderWasm = cases.find((c) => c.name === 'linux-under-wasm-class')!.pod
      const linuxUnderWasmStatus = async (): Promise<number> => (await kube.req('POST', '/api/v1/namespaces/e2e/pods?dryRun=All', linuxUnderWasm)).status
      const side = [
        backends.find((b) => b.name === 'wasm-admission')!,
        backends.find((b) => b.name === 'kyverno')!,
        backends.find((b) => b.name === 'kyverno-clusterpolicy')!,
        objectsBackend(kube, {
          name: 'kyverno+validating',
          describe: 'Kyverno with mutatingpolicy.yaml and validatingpolicy.yaml',
          objects: [mpol, vpol],
          active: async () => typeof (await rcOf()) === 'string' && (await linuxUnderWasmStatus()) !== 201,
          inactive: async () => (await rcOf()) === undefined && (await linuxUnderWasmStatus()) === 201,
        }),
      ]
      const outcomes = await sideBySide({ kube, namespace: 'e2e', backends: side, cases, classes, log })
      results.correctness = { cases: cases.map((c) => ({ name: c.name, expect: c.expect, why: c.why })), outcomes }
      results.correctnessTable = sideBySideTable(cases, outcomes)
    }
  }

  // ---------------------------------------------------------------- 3. registry
  if (SECTIONS.includes('registry')) {
    log('registry: cold lookups and one uncached image admitted concurrently')
    const pusher = new Pusher(registry.host)
    const pushUnique = async (repo: string, id: string): Promise<string> => {
      const wasm = await pusher.pushBlob(repo, WASM_MODULE, 'application/vnd.wasm.content.layer.v1+wasm')
      const cfg = await pusher.pushBlob(repo, bytesOf({ spin_lock_version: 0, triggers: [], components: [{ id: `hello-${id}` }] }), 'application/vnd.fermyon.spin.application.v1+config')
      await pusher.pushImageManifest(repo, 'v1', { config: cfg, layers: [wasm] })
      return `${regProxy.host}/${repo}:v1`
    }
    const template = JSON.parse(fixtures['wasm-1']!.mutate)
    const reviewFor = (image: string, uid = template.request.uid): string => {
      const r = structuredClone(template)
      r.request.uid = uid
      r.request.object.spec.containers[0].image = image
      return JSON.stringify(r)
    }
    // cold: each lookup a new image; warm: the same image again
    const cold: number[] = []
    const warmMs: number[] = []
    const perLookup: number[] = []
    for (let k = 0; k < 20; k++) {
      const image = await pushUnique(`cold/app-${k}`, `c${k}`)
      const before = regProxy.count()
      const c = await post1(webhook.url, '/mutate', reviewFor(image))
      if (!c.body.response?.patch) throw new Error(`cold lookup ${image}: ${JSON.stringify(c.body)}`)
      perLookup.push(regProxy.count() - before)
      cold.push(c.ms)
      warmMs.push((await post1(webhook.url, '/mutate', reviewFor(image))).ms)
    }
    // 1,000 concurrent admissions of one uncached image, over HTTP/2 (10 sessions x 100 streams)
    const image = await pushUnique('cold/concurrent', 'concurrent')
    regProxy.reset()
    const sessions = Array.from({ length: 10 }, () => http2.connect(webhook.url, { ca: ca.caPem }))
    await Promise.all(sessions.map((s) => new Promise<void>((r, j) => s.once('connect', () => r()).once('error', j))))
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        new Promise<any>((resolve, reject) => {
          const req = sessions[i % sessions.length]!.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' })
          const chunks: Buffer[] = []
          req.on('data', (c: Buffer) => chunks.push(c))
          req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
          req.on('error', reject)
          req.end(reviewFor(image, `uid-${i}`))
        }),
      ),
    )
    const allMs = performance.now() - started
    for (const s of sessions) s.close()
    const mutated = answers.filter((a) => a.response?.allowed && a.response.patch).length
    const manifests = regProxy.count(/^\/v2\/cold\/concurrent\/manifests\//)
    const blobs = regProxy.count(/^\/v2\/cold\/concurrent\/blobs\//)
    results.registry = {
      cold: ms(summarize(cold)),
      warmSameImage: ms(summarize(warmMs)),
      registryRequestsPerColdLookup: summarize(perLookup).p50,
      concurrent: { admissions: CONCURRENT, mutated, totalMs: Math.round(allMs), manifestGets: manifests, blobGets: blobs, registryRequests: regProxy.count() },
    }
    log(`  cold p50 ${r2(results.registry.cold.p50)} ms (${results.registry.registryRequestsPerColdLookup} registry requests) | warm p50 ${r2(results.registry.warmSameImage.p50)} ms | ${CONCURRENT} concurrent: ${manifests} manifest GET(s), ${blobs} blob GET(s), ${mutated} mutated, ${Math.round(allMs)} ms`)
  }

  // ---------------------------------------------------------------- 2. scale
  if (SECTIONS.includes('scale')) {
    const rows: any[] = []
    for (const size of SIZES) {
      const createMs = await growTo(size)
      await webhook.stop()
      webhook = await startWebhook(webhookArgs, `webhook-${size}`)
      const sync = syncTimes(readFileSync(webhook.child.logFile, 'utf8'))
      // settle, then memory as the steady state after sync
      await new Promise((r) => setTimeout(r, 2000))
      const afterSync = await webhook.memory()
      await warm(webhook)
      const apiBefore = apiCalls()
      const f = fixtures['wasm-1']!
      const h1 = await wrk({ url: webhook.url + '/mutate', body: f.mutate, seconds: SECONDS, connections: H1_CONNS, warmupSeconds: 1 })
      const seq: number[] = []
      for (let k = 0; k < 300; k++) seq.push((await post1(webhook.url, '/mutate', f.mutate)).ms)
      const afterLoad = await webhook.memory()
      const row = {
        nodes: size,
        runtimeClasses: 50,
        createNodesMs: Math.round(createMs),
        readyMs: Math.round(webhook.readyMs),
        syncMs: sync,
        memoryAfterSync: roundAll(afterSync),
        memoryAfterLoad: roundAll(afterLoad),
        load: pick(h1),
        sequential: ms(summarize(seq)),
        apiserverNonWatchRequestsDuringLoad: apiCalls() - apiBefore,
      }
      rows.push(row)
      log(`  ${size} nodes: ready in ${row.readyMs} ms, RSS ${r2(afterSync.rssMB)} MB (after load ${r2(afterLoad.rssMB)}, peak ${r2(afterLoad.peakMB)}), heap ${r2(afterSync.heapUsedMB)} / ${r2(afterSync.heapTotalMB)} MB; wrk p50 ${r2(h1.p50)} p99 ${r2(h1.p99)} ms ${Math.round(h1.rps)} req/s; sequential p50 ${r2(row.sequential.p50)} ms`)
    }
    const first = rows[0]
    const last = rows[rows.length - 1]
    results.scale = {
      rows,
      latencyRatioLastToFirst: first && last ? { p50: r2(last.load.p50 / first.load.p50), p99: r2(last.load.p99 / first.load.p99), sequentialP50: r2(last.sequential.p50 / first.sequential.p50) } : null,
    }
  }

  results.machine.loadAvgAtEnd = loadavg().map(r2)
  const stamp = results.date.replace(/[:.]/g, '-')
  writeFileSync(join(resultsDir, `${stamp}.json`), JSON.stringify(results, null, 2))
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(results, null, 2))
  process.stdout.write(table(results))
  log(`results: bench/results/${stamp}.json`)
}

/**
 * Runs each named load `rounds` times, alternating (A B, B A, A B, ...), and records the 1-minute
 * load average after each round.
 */
async function alternate<K extends string>(rounds: number, loads: Record<K, () => Promise<LoadResult>>): Promise<Record<K, LoadResult[]> & { loadAvg1: number[] }> {
  const keys = Object.keys(loads) as K[]
  const out = Object.fromEntries(keys.map((k) => [k, [] as LoadResult[]])) as Record<K, LoadResult[]>
  const loadAvg1: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const k of round % 2 === 0 ? keys : [...keys].reverse()) out[k].push(await loads[k]())
    loadAvg1.push(r2(loadavg()[0]!))
  }
  return Object.assign(out, { loadAvg1 })
}

/**
 * Runs a load and adds the server's CPU time (user + system, /proc) per review served during it
 * (warm-up included on both sides): a figure that, unlike throughput, does not depend on how much
 * of the machine the server got.
 */
async function withCpu(pid: number, reviews: () => Promise<number>, load: () => Promise<LoadResult>): Promise<LoadResult> {
  const c0 = procCpuSeconds(pid)
  const n0 = await reviews()
  const r = await load()
  const n = (await reviews()) - n0
  return { ...r, cpuUsPerReview: ((procCpuSeconds(pid) - c0) * 1e6) / Math.max(1, n) }
}

/** Field-wise median of several runs. */
function medianOf(rs: LoadResult[]): Record<string, number> {
  const m = (f: (r: LoadResult) => number): number => spread(rs.map(f)).median
  return { rps: Math.round(m((r) => r.rps)), p50: m((r) => r.p50), p99: m((r) => r.p99), p999: m((r) => r.p999), cpuUsPerReview: m((r) => r.cpuUsPerReview ?? NaN), requests: rs.reduce((a, r) => a + r.requests, 0), errors: rs.reduce((a, r) => a + r.errors, 0) }
}

function pick(r: LoadResult): Record<string, number> {
  return { rps: Math.round(r.rps), p50: r2(r.p50), p99: r2(r.p99), p999: r2(r.p999), mean: r2(r.mean), requests: r.requests, errors: r.errors, ...(r.cpuUsPerReview !== undefined ? { cpuUsPerReview: Math.round(r.cpuUsPerReview) } : {}) }
}
function ms(s: Summary): { n: number; p50: number; p99: number; p999: number; mean: number; max: number } {
  return { n: s.n, p50: r2(s.p50), p99: r2(s.p99), p999: r2(s.p999), mean: r2(s.mean), max: r2(s.max) }
}
function roundAll(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, r2(v)]))
}

/** Informer list times from the webhook log: ms from the first log line to each kind's first "listed". */
function syncTimes(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { time: string; msg: string; kind?: string })
  const t0 = Date.parse(lines[0]?.time ?? '')
  const out: Record<string, number> = {}
  for (const l of lines) if (l.msg?.endsWith(' listed') && l.kind && out[l.kind] === undefined) out[l.kind] = Date.parse(l.time) - t0
  return out
}

function table(r: Record<string, any>): string {
  const out: string[] = ['', `wasm-admission bench ${r.date} — ${r.machine.nproc} x ${r.machine.cpu}, Node ${r.machine.node}, Kubernetes ${r.machine.kubernetes}`, '']
  const row = (cells: Array<string | number | undefined>, widths: number[]): string => cells.map((c, i) => String(c ?? '?').padEnd(widths[i] ?? 10)).join(' ')
  if (r.throughput) {
    const w = [10, 6, 9, 8, 8, 9, 8, 8, 20, 20, 10, 20]
    const sp = (x: any): string => `x${x.median} [${x.min}-${x.max}]`
    out.push(`1. Throughput and latency, warm cache (medians of ${r.options.rounds} alternating rounds; ms; ratio = webhook / null handler, median [min-max] of the per-round ratios; CPU = server CPU us per review)`)
    out.push(row(['fixture', 'proto', 'null r/s', 'p50', 'p99', 'wh r/s', 'p50', 'p99', 'x thr', 'x p99', 'CPU null/wh', 'x CPU'], w))
    for (const x of r.throughput.rows) out.push(row([x.fixture, x.proto, x.null.rps, x.null.p50, x.null.p99, x.webhook.rps, x.webhook.p50, x.webhook.p99, sp(x.ratio.throughput), sp(x.ratio.p99), `${x.null.cpuUsPerReview}/${x.webhook.cpuUsPerReview}`, sp(x.ratio.cpuPerReview)], w))
    for (const x of r.throughput.rows) if (x.bare) out.push(`   ${x.fixture} ${x.proto} bare node:http2 floor: ${x.bare.rps} req/s, CPU ${x.bare.cpuUsPerReview} us/review; null/bare throughput ${sp(x.bareRatio.nullThroughput)}, CPU ${sp(x.bareRatio.nullCpu)}; webhook/bare throughput ${sp(x.bareRatio.webhookThroughput)}`)
    if (r.throughput.fixedRate?.length) {
      const w2 = [10, 7, 9, 9, 9, 9, 22, 22]
      out.push(`   Latency at a fixed rate (h2load --rps, ${RATE_CONNS} HTTP/2 connections; ms)`)
      out.push(row(['fixture', 'req/s', 'null p50', 'p99', 'wh p50', 'p99', 'x p50', 'x p99'], w2))
      for (const x of r.throughput.fixedRate) out.push(row([x.fixture, x.rps, x.null.p50, x.null.p99, x.webhook.p50, x.webhook.p99, sp(x.ratio.p50), sp(x.ratio.p99)], w2))
    }
    out.push(`   load average (1 min) after each round: ${[...r.throughput.rows, ...(r.throughput.fixedRate ?? [])].map((x: any) => `${x.fixture}/${x.proto}${x.rps ? '-rate' : ''} ${x.perRound.loadAvg1.join(' ')}`).join('; ')}`)
    out.push(`   admissions ${r.throughput.admissions}; apiserver non-watch requests during load: ${r.throughput.apiserverNonWatchRequestsDuring}${r.throughput.apiserverNonWatchRequests?.length ? ` (${r.throughput.apiserverNonWatchRequests.join(', ')})` : ''}; registry requests: ${r.throughput.registryRequestsDuring}`, '')
  }
  if (r.scale) {
    const w = [7, 9, 9, 22, 9, 9, 9, 9, 9, 9, 9]
    out.push(`2. Scale (50 RuntimeClasses; wasm-1 fixture over HTTP/1.1; memory after sync; NODE_OPTIONS="${r.options.webhookNodeOptions ?? ''}", malloc env ${Object.entries(r.options.webhookMallocEnv ?? {}).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}${r.options.webhookNodeArgs?.length ? `, node args ${r.options.webhookNodeArgs.join(' ')}` : ''})`)
    out.push(row(['nodes', 'ready ms', 'nodes ms', 'RSS/peak MB', 'heap MB', 'r/s', 'p50', 'p99', 'seq p50', 'api calls'], w))
    for (const x of r.scale.rows) out.push(row([x.nodes, x.readyMs, x.syncMs.nodes ?? '?', `${x.memoryAfterSync.rssMB}/${x.memoryAfterLoad.peakMB}`, x.memoryAfterSync.heapUsedMB, x.load.rps, x.load.p50, x.load.p99, x.sequential.p50, x.apiserverNonWatchRequestsDuringLoad], w))
    if (r.scale.latencyRatioLastToFirst) out.push(`   latency largest/smallest: p50 x${r.scale.latencyRatioLastToFirst.p50}, p99 x${r.scale.latencyRatioLastToFirst.p99}, sequential p50 x${r.scale.latencyRatioLastToFirst.sequentialP50}`)
    out.push('')
  }
  if (r.registry) {
    out.push('3. Registry')
    out.push(`   cold lookup (new image, one admission): p50 ${r.registry.cold.p50} ms, p99 ${r.registry.cold.p99} ms, ${r.registry.registryRequestsPerColdLookup} registry requests; same image warm: p50 ${r.registry.warmSameImage.p50} ms`)
    const c = r.registry.concurrent
    out.push(`   ${c.admissions} concurrent admissions of one uncached image: ${c.manifestGets} manifest GET, ${c.blobGets} blob GETs, ${c.registryRequests} registry requests in all; ${c.mutated} mutated; ${c.totalMs} ms`, '')
  }
  if (r.e2e) {
    const e = r.e2e
    out.push(`4. Pod CREATE through the apiserver (${e.rounds} alternating rounds x ${e.podsPerBackendPerRound} pods per backend, concurrency ${e.concurrency}; ms)`)
    const w = [27, 9, 9, 30, 30]
    out.push(row(['backend', 'p50', 'p99', 'round p50s', 'round p99s'], w))
    for (const [name, b] of Object.entries<any>(e.backends)) out.push(row([name, b.pooled.p50, b.pooled.p99, b.rounds.map((x: any) => x.p50).join(' '), b.rounds.map((x: any) => x.p99).join(' ')], w))
    out.push(`   ratios (median of the per-round ratios [min-max]):`)
    for (const [pair, x] of Object.entries<any>(e.ratios)) out.push(`   ${pair.padEnd(52)} p50 x${x.p50.median} [${x.p50.min}-${x.p50.max}]  p99 x${x.p99.median} [${x.p99.min}-${x.p99.max}]`)
    out.push(`   load average (1 min) per round: ${Object.values<any>(e.backends)[0].rounds.map((x: any) => x.loadAvg1).join(' ')}; wasm-admission calls per pod ${e.webhookCallsPerPod} (${e.webhookCalls} calls incl. probes)`)
    if (e.costs) {
      const procs = [...new Set(Object.values<any>(e.costs).flatMap((c: any) => Object.keys(c.cpuMsPerPod)))]
      out.push(`   per pod, while each backend was registered (CPU ms of each process; registry requests):`)
      const wc = [27, 9, ...procs.map(() => 15)]
      out.push(row(['backend', 'registry', ...procs.map((p) => `${p} ms`)], wc))
      for (const [name, c] of Object.entries<any>(e.costs)) out.push(row([name, c.registryRequestsPerPod, ...procs.map((p) => c.cpuMsPerPod[p])], wc))
      if (e.idleCpuMsPerSecond) {
        out.push(`   ... net of each process's idle CPU (${Object.entries<any>(e.idleCpuMsPerSecond).map(([k, v]) => `${k} ${v}`).join(', ')} ms/s, measured 10 s before the rounds) over the rounds' wall time; total = the sum`)
        out.push(row(['backend', 'wall s', ...procs.map((p) => `${p} ms`), 'total ms'], [...wc, 12]))
        for (const [name, c] of Object.entries<any>(e.costs)) out.push(row([name, c.wallSeconds, ...procs.map((p) => c.netCpuMsPerPod[p]), r2(procs.reduce((a, p) => a + (c.netCpuMsPerPod[p] ?? 0), 0))], [...wc, 12]))
      }
      // the apiserver's own metrics per pod (bench/lib/apiserver-metrics.ts): ms in each step / plugin / webhook, calls
      const names = Object.keys(e.costs)
      const keys = [...new Set(Object.values<any>(e.costs).flatMap((c: any) => Object.keys(c.countersPerPod ?? {})))].sort()
      if (keys.length > 0) {
        out.push(`   per pod, the apiserver's metrics (ms: _ms series; calls: counts) while each backend was registered:`)
        const wk = [96, ...names.map(() => 12)]
        out.push(row(['series', ...names.map((n) => n.slice(0, 11))], wk))
        for (const k of keys) out.push(row([k.replace(/^apiserver_admission_/, '').slice(0, 95), ...names.map((n) => e.costs[n].countersPerPod?.[k] ?? 0)], wk))
      }
    }
    const nc = e.nullServerConnectionsDuringRounds
    if (nc) out.push(`   null server during the rounds: ${nc.reviews} reviews (${nc.h2Reviews} over HTTP/2) on ${nc.tls} new TLS connections (${nc.h2} HTTP/2 sessions; the bench's own GETs included); patch floor ${JSON.stringify(e.floorPatch)}`)
    if (e.memory) out.push(`   RSS / peak MB after the rounds: ${Object.entries<any>(e.memory).map(([k, m]) => `${k} ${m.rssMB}/${m.peakMB}`).join(', ')}`)
    out.push('')
  }
  if (r.peers?.kyverno) {
    const k = r.peers.kyverno
    out.push(`5. Peers: Kyverno ${k.binary} (build-tools --peers kyverno: ${k.buildToolsSeconds} s in this run; start to webhooks registered ${k.readyMs} ms, with CRDs ${k.startMs} ms; ${k.admissionRequests ?? '?'} admission requests counted by Kyverno)`)
  }
  if (r.correctnessTable) out.push('   Correctness side by side (dry-run pod CREATE, one backend registered at a time):', r.correctnessTable)
  return out.join('\n') + '\n'
}

const onSignal = (): void => void cleanup().finally(() => process.exit(130))
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  await main()
} catch (e) {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`)
  process.exitCode = 1
} finally {
  await cleanup()
}
