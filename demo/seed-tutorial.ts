/**
 * The demo: replays the seed tutorial on real parts and prints a short transcript.
 *
 *   scripts/demo.sh            # builds what is missing, then runs this
 *   scripts/demo.sh --keep     # leaves the cluster running until Ctrl-C, prints how to use kubectl
 *
 * Real etcd + kube-apiserver + kube-controller-manager, a real registry holding the sample images,
 * the webhook as a local process (node dist/src/cli.js serve) registered by `helm install` of the
 * chart in url mode. There is no kubelet and no scheduler: pods stay Pending, which is the point:
 * what is shown is what the apiserver stored after admission.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { stringify } from 'yaml'
import {
  DEFAULT_TOLERATIONS,
  SEED_NODES,
  SEED_RUNTIME_CLASSES,
  deploymentObject,
  podObject,
  startE2EEnv,
  waitFor,
  type E2EEnv,
  type K8sObject,
} from '../test/harness/e2e-env.js'
import { toolPaths } from '../test/harness/tools.js'

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`Usage: scripts/demo.sh [--keep] [--verbose]

Replays the seed tutorial against a real kube-apiserver with wasm-admission installed by Helm.
  --keep      leave everything running after the transcript (until Ctrl-C) and print how to use kubectl
  --verbose   also print the environment's progress lines with timings
`)
  process.exit(0)
}
const KEEP = args.includes('--keep')
const VERBOSE = args.includes('--verbose')
const unknown = args.filter((a) => !['--keep', '--verbose'].includes(a))
if (unknown.length > 0) {
  process.stderr.write(`demo: unknown argument(s): ${unknown.join(' ')} (see --help)\n`)
  process.exit(2)
}

// ------------------------------------------------------------------ output

const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
const c = (code: string) => (s: string): string => (tty ? `\u001b[${code}m${s}\u001b[0m` : s)
const bold = c('1')
const dim = c('2')
const green = c('32')
const red = c('31')
const yellow = c('33')
const cyan = c('36')
const out = (s = ''): void => void process.stdout.write(`${s}\n`)
const indent = (s: string, n = 4): string => s.replace(/\n$/, '').split('\n').map((l) => ' '.repeat(n) + l).join('\n')
const t0 = Date.now()
const secs = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`
let step = 0
const section = (title: string): void => {
  out()
  out(bold(`${++step}. ${title}`))
}
/** YAML 1.1 style so that "yes" is quoted, as kubectl needs it. */
const yaml = (o: unknown): string => stringify(o, { version: '1.1' })
const q = JSON.stringify

// ------------------------------------------------------------------ helpers

function kubectlLine(args: string[]): string {
  return cyan(`$ kubectl ${args.join(' ')}`)
}

let registryHost = '\u0000'
/** `127.0.0.1:PORT/samples/x` -> `…/x` (the port changes every run). */
const shortRef = (ref: string): string => ref.replaceAll(`${registryHost}/samples/`, '…/')

/** What the admission chain added to a pod, compared with what was sent (the template). */
function describeAdmission(sent: K8sObject, pod: K8sObject, runtimeClasses: K8sObject[]): string[] {
  const lines: string[] = []
  const ss = sent.spec
  const ps = pod.spec
  const rc = runtimeClasses.find((r) => r.metadata.name === ps.runtimeClassName)
  if (ps.runtimeClassName && ps.runtimeClassName !== ss.runtimeClassName) lines.push(`${green('+ runtimeClassName:')} ${ps.runtimeClassName}   ${dim('(webhook)')}`)
  ps.containers.forEach((pc: K8sObject, i: number) => {
    const sc = ss.containers[i] as K8sObject
    if (pc.image !== sc.image) lines.push(`${green(`~ containers[${i}].image:`)} ${shortRef(pc.image)}   ${dim('(webhook: pinned to the Wasm entry of the index)')}`)
    if (pc.command && !sc.command) lines.push(`${green(`+ containers[${i}].command:`)} ${q(pc.command)}   ${dim('(webhook: Spin image without entrypoint)')}`)
  })
  const sentAnn = (sent.metadata.annotations ?? {}) as Record<string, string>
  for (const [k, v] of Object.entries((pod.metadata.annotations ?? {}) as Record<string, string>)) {
    if (sentAnn[k] !== v) lines.push(`${green('+ annotation')} ${k}: ${v}   ${dim('(webhook)')}`)
  }
  if (ps.nodeSelector && !ss.nodeSelector) {
    lines.push(`${green('+ nodeSelector:')} ${Object.entries(ps.nodeSelector).map(([k, v]) => `${k}=${String(v)}`).join(',')}   ${dim(`(apiserver RuntimeClass plugin, from ${rc?.metadata.name ?? '?'})`)}`)
  }
  const extraTol = ((ps.tolerations ?? []) as K8sObject[]).filter((t) => !DEFAULT_TOLERATIONS.some((d) => d.key === t.key && d.effect === t.effect))
  for (const tol of extraTol) lines.push(`${green('+ toleration:')} ${tol.key}:${tol.effect} (${tol.operator})   ${dim(`(apiserver RuntimeClass plugin, from ${rc?.metadata.name ?? '?'})`)}`)
  if (ps.overhead) lines.push(`${green('+ overhead:')} ${Object.entries(ps.overhead).map(([k, v]) => `${k}=${String(v)}`).join(',')}   ${dim(`(apiserver RuntimeClass plugin, from ${rc?.metadata.name ?? '?'})`)}`)
  if (lines.length === 0) lines.push(dim('(nothing: the pod is stored as sent)'))
  return lines
}

/** The denial text without kubectl's prefix. */
function denial(stderr: string): string {
  const m = /denied the request: (.*)$/s.exec(stderr.trim())
  return m ? m[1]!.trim() : stderr.trim()
}

async function podsTable(env: E2EEnv, ns: string): Promise<string> {
  const cols = [
    'NAME:.metadata.name',
    'STATUS:.status.phase',
    'RUNTIMECLASS:.spec.runtimeClassName',
    'NODE-SELECTOR:.spec.nodeSelector',
    'COMMAND:.spec.containers[0].command',
    'IMAGE:.spec.containers[0].image',
  ]
  const a = ['get', 'pods', '-n', ns, '--sort-by=.metadata.name', '-o', `custom-columns=${cols.join(',')}`]
  const r = await env.kubectl(a)
  const registry = env.registry.host
  return `${kubectlLine(['get', 'pods', '-n', ns, '-o', 'custom-columns=NAME,STATUS,RUNTIMECLASS,NODE-SELECTOR,COMMAND,IMAGE'])}\n${r.stdout.replaceAll(`${registry}/samples/`, '…/')}`
}

// ------------------------------------------------------------------ the replay

async function replay(env: E2EEnv): Promise<void> {
  const s = env.samples
  registryHost = env.registry.host
  const short = shortRef
  const NS = 'tutorial'

  section('The cluster (seed tutorial): 6 nodes, 2 Wasm RuntimeClasses (+2 extra)')
  for (const n of SEED_NODES) {
    const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-'
    out(indent(`${n.name.padEnd(12)} labels ${labels.padEnd(32)} runtimeHandlers runc${n.handlers.map((h) => `,${h}`).join('')}`))
  }
  for (const rc of SEED_RUNTIME_CLASSES) {
    const sel = Object.entries(rc.scheduling?.nodeSelector ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',')
    const extra = [rc.overhead ? 'overhead' : '', rc.scheduling?.tolerations ? 'tolerations' : ''].filter(Boolean).join(', ')
    out(indent(`RuntimeClass ${rc.metadata.name.padEnd(15)} handler ${rc.handler.padEnd(9)} nodeSelector ${sel}${extra ? `  (+ ${extra})` : ''}`))
  }
  out(indent(dim(`wasm-admission: helm release ${env.release} in namespace ${env.releaseNamespace}, webhook ${env.webhook.url} (local process)`)))
  await env.createNamespace(NS)

  // --- the Spin Deployment
  section('A Deployment of a Spin image, without runtimeClassName')
  const deploy = deploymentObject('spin-hello', s['spin-scratch'].ref, 1)
  out(indent(`${cyan(`$ kubectl apply -n ${NS} -f -`)}\n${yaml(deploy).replaceAll(env.registry.host, '127.0.0.1:PORT')}`))
  await env.apply(deploy, { namespace: NS })
  const first = await waitFor('the first spin-hello pod', async () => (await env.list('pods', NS, 'app=spin-hello'))[0])
  out(indent(`The controller-manager created pod ${bold(first.metadata.name)}; the apiserver stored it with:`))
  for (const l of describeAdmission(deploy.spec.template as K8sObject, first, SEED_RUNTIME_CLASSES)) out(indent(l, 6))

  out()
  out(indent(kubectlLine(['scale', 'deployment/spin-hello', '--replicas=3', '-n', NS])))
  await env.kubectl(['scale', 'deployment/spin-hello', '--replicas=3', '-n', NS])
  await waitFor('3 spin-hello pods', async () => (await env.list('pods', NS, 'app=spin-hello')).length === 3)

  // --- other Wasm styles
  section('Other Wasm packaging styles, as bare pods')
  const cases: Array<{ name: string; image: string; what: string }> = [
    { name: 'wasi-component', image: s['cncf-component'].ref, what: 'WASI component (wkg / wash push)' },
    { name: 'crun-app', image: s['crun-annotated'].ref, what: 'crun image (buildah --annotation module.wasm.image/variant)' },
    { name: 'spin-mixed-index', image: s['mixed-index'].ref, what: 'Docker manifest list: linux/amd64 + wasi/wasm' },
    { name: 'plain-linux', image: s.linux.ref, what: 'an ordinary Linux image' },
  ]
  for (const k of cases) {
    const pod = podObject(k.name, k.image)
    out(indent(`${cyan(`$ kubectl run ${k.name} -n ${NS} --image=${short(k.image)}`)}   ${dim(`# ${k.what}`)}`))
    await env.apply(pod, { namespace: NS, verb: 'create' })
    const stored = await env.get('pod', k.name, NS)
    for (const l of describeAdmission(pod, stored, SEED_RUNTIME_CLASSES)) out(indent(l, 6))
  }

  section('What the apiserver stored (no scheduler, no kubelet: Pending)')
  out(indent(await podsTable(env, NS)))

  // --- denials
  section('Denials')
  const denials: Array<{ title: string; obj: K8sObject; kind: string }> = [
    { title: 'Slight app: its RuntimeClass slight-nowhere has no node with the shim', obj: podObject('slight-app', s['slight-scratch'].ref), kind: 'pod' },
    { title: 'The same as a Deployment: refused at apply time', obj: deploymentObject('slight-app', s['slight-scratch'].ref, 2), kind: 'deployment' },
    { title: 'A Linux image under the Wasm RuntimeClass wasm1', obj: podObject('linux-under-wasm', s.linux.ref, { runtimeClassName: 'wasm1' }), kind: 'pod' },
  ]
  for (const d of denials) {
    out(indent(`${bold(d.title)}`))
    out(indent(`${cyan(`$ kubectl ${d.kind === 'pod' ? 'create' : 'apply'} -n ${NS} -f ${d.kind}-${d.obj.metadata.name}.yaml`)}`))
    const r = await env.apply(d.obj, { namespace: NS, verb: d.kind === 'pod' ? 'create' : 'apply', allowFailure: true })
    if (r.code === 0) throw new Error(`expected a denial for ${d.kind} ${d.obj.metadata.name}, got: ${r.stdout}`)
    out(indent(`${red('✗ denied:')} ${denial(r.stderr).replaceAll(`${env.registry.host}/samples/`, '…/')}`, 6))
    out()
  }

  await env.createNamespace('tutorial-warn', { 'wasm-admission.io/mode': 'warn' })
  out(indent(bold('The same Slight pod in a namespace labelled wasm-admission.io/mode=warn')))
  out(indent(cyan('$ kubectl create -n tutorial-warn -f pod-slight-app.yaml')))
  const w = await env.apply(podObject('slight-app', s['slight-scratch'].ref), { namespace: 'tutorial-warn', verb: 'create' })
  out(indent(`${w.stdout.trim()}`, 6))
  out(indent(yellow(w.stderr.trim().replaceAll(`${env.registry.host}/samples/`, '…/')), 6))
}

// ------------------------------------------------------------------ main

let env: E2EEnv | undefined
let exiting = false

async function main(): Promise<number> {
  out(bold('wasm-admission demo: the seed tutorial on a real kube-apiserver'))
  out(dim('Starting etcd, kube-apiserver, kube-controller-manager, a registry with sample images, the webhook, and helm install...'))
  env = await startE2EEnv({ keep: false, log: (l) => (VERBOSE ? out(dim(`  [${secs()}] ${l}`)) : undefined) })
  out(dim(`Up in ${secs()}.`))
  await replay(env)
  out()
  out(green(bold(`✓ Done in ${secs()}: mutated pods stored with their RuntimeClass, denials explained.`)))

  if (!KEEP) {
    await env.stop()
    return 0
  }
  const tools = toolPaths()
  out()
  out(bold('Everything is still running (--keep). In another terminal:'))
  out(indent(`export KUBECONFIG=${env.kubeconfigPath}`))
  out(indent(`export PATH=${tools.kubectl.replace(/\/kubectl$/, '')}:${tools.helm.replace(/\/helm$/, '')}:$PATH`))
  out(indent('kubectl get pods -A -o wide'))
  out(indent('kubectl get runtimeclass,nodes --show-labels'))
  out(indent(`helm list -n ${env.releaseNamespace}`))
  out(indent(`curl -s http://127.0.0.1:${env.webhook.healthPort}/metrics | grep wasm_admission_requests_total`))
  out(indent(`webhook log: ${env.webhook.logFile}`))
  out(bold(`Stop it: Ctrl-C here, or kill ${process.pid}`))
  // Wait for a signal. Timers keep the event loop alive; the signal handler below ends the process.
  for (;;) await delay(3_600_000)
}

// With --keep, Ctrl-C / SIGTERM is the normal way to stop: exit 0 after a clean stop. The harness'
// own handlers (control-plane.ts, e2e-env.ts) have already killed the processes synchronously.
if (KEEP) {
  const graceful = (): void => {
    if (exiting) return
    exiting = true
    out()
    out(dim('Stopping...'))
    void (env?.stop() ?? Promise.resolve()).finally(() => {
      out(dim('Stopped.'))
      process.exit(0)
    })
  }
  process.on('SIGINT', graceful)
  process.on('SIGTERM', graceful)
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`\n${red('demo failed:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    await env?.stop().catch(() => undefined)
    process.exit(1)
  },
)
