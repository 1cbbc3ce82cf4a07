/**
 * The demo: replays the seed tutorial on real parts and prints a short transcript.
 *
 *   scripts/demo.sh            # builds what is missing, then runs this
 *   scripts/demo.sh --keep     # leaves the cluster running until Ctrl-C, prints how to use kubectl
 *
 * Real etcd + kube-apiserver + kube-controller-manager + kube-scheduler, a real registry holding the
 * sample images, the webhook as a local process (node dist/src/cli.js serve) registered by
 * `helm install` of the chart in url mode, and three real worker nodes (containerd + kubelet each; one
 * with only runc, one with the wasmtime shim, one with the shim under the Spin handler), all inside a
 * network + mount namespace of the demo's own (test/harness/own-netns.ts).
 */
import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { stringify } from 'yaml'
import {
  DEFAULT_TOLERATIONS,
  SEED_RUNTIME_CLASSES,
  deploymentObject,
  podObject,
  startE2EEnv,
  waitFor,
  type E2EEnv,
  type K8sObject,
} from '../test/harness/e2e-env.js'
import { toolPaths } from '../test/harness/tools.js'
import { runInOwnNamespaces } from '../test/harness/own-netns.js'
import { realNodesMissing, seedRealNodeSpecs, shimBinaries, type RealNode } from '../test/harness/real-nodes.js'
import { run } from '../test/harness/process.js'

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`Usage: scripts/demo.sh [--keep] [--verbose]

Replays the seed tutorial on a real control plane and three real worker nodes (containerd, kubelet,
a runwasi-based wasmtime shim) with wasm-admission installed by Helm.
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

// ------------------------------------------------------------------ the replay

const NS = 'tutorial'
const OFF_NS = 'tutorial-off'

async function podsTableWide(env: E2EEnv, ns: string, selector?: string): Promise<string> {
  const cols = ['NAME:.metadata.name', 'STATUS:.status.phase', 'NODE:.spec.nodeName', 'RUNTIMECLASS:.spec.runtimeClassName', 'IMAGE:.spec.containers[0].image']
  const a = ['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '--sort-by=.metadata.name', '-o', `custom-columns=${cols.join(',')}`]
  const r = await env.kubectl(a)
  return `${kubectlLine(['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'custom-columns=NAME,STATUS,NODE,RUNTIMECLASS,IMAGE'])}\n${r.stdout.replaceAll(`${env.registry.host}/samples/`, '…/')}`
}

/** Waits until a pod runs (Running/Succeeded) or its container or sandbox fails; says which. */
async function settle(env: E2EEnv, ns: string, name: string): Promise<{ ok: boolean; pod: K8sObject; why: string }> {
  return waitFor(`${ns}/${name} to run or fail`, async () => {
    const p = await env.get('pod', name, ns)
    const st = p.status?.containerStatuses?.[0]?.state
    // A container that started and then exited leaves the pod phase Running (CrashLoopBackOff): look at the container.
    if (p.status?.phase === 'Succeeded' || (p.status?.phase === 'Running' && st?.running)) return { ok: true, pod: p, why: String(p.status.phase) }
    const reason = st?.waiting?.reason ?? st?.terminated?.reason
    if (reason && reason !== 'ContainerCreating') return { ok: false, pod: p, why: `${String(reason)}: ${String(st?.waiting?.message ?? st?.terminated?.message ?? '')}` }
    const ev = (await env.list('events', ns)).find((e) => e.involvedObject?.name === name && e.reason === 'FailedCreatePodSandBox')
    return ev ? { ok: false, pod: p, why: `FailedCreatePodSandBox: ${String(ev.message)}` } : undefined
  }, 180_000)
}

const NO_SHIM = 'the Wasm shim is not built here (scripts/build-tools.sh builds it): the node has no runtime for this handler, so the pod is placed but cannot start'

async function logsOf(env: E2EEnv, ns: string, name: string, needle: string, lines = 3): Promise<string> {
  const text = await waitFor(`"${needle}" in the log of ${name}`, async () => {
    const r = await env.kubectl(['logs', name, '-n', ns], { allowFailure: true })
    return r.code === 0 && r.stdout.includes(needle) ? r.stdout : undefined
  }, 60_000)
  return text.trimEnd().split('\n').slice(0, lines).join('\n')
}

/** `ps` of the node's shim processes (the ones containerd started, not their container children). */
async function shimPs(node: RealNode, binary: string): Promise<{ text: string; count: number }> {
  const procs = node.shimProcesses().filter((p) => p.argv[0]?.endsWith(binary))
  const pids = new Set(procs.map((p) => p.pid))
  const ppid = (pid: number): number => {
    try {
      const st = (readFileSync(`/proc/${pid}/stat`, 'utf8'))
      return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      return 0
    }
  }
  const top = procs.filter((p) => !pids.has(ppid(p.pid)))
  if (top.length === 0) return { text: '(none)', count: 0 }
  const r = await run('ps', ['-o', 'pid,rss,args', '-p', top.map((p) => p.pid).join(',')])
  return { text: r.stdout.replaceAll(node.dir, '<node-dir>'), count: top.length }
}

async function replay(env: E2EEnv): Promise<void> {
  const s = env.samples
  registryHost = env.registry.host
  const short = shortRef
  const nodes = env.nodes!

  section('The cluster: three real worker nodes and the seed RuntimeClasses')
  for (const n of nodes.nodes) {
    const obj = await env.get('node', n.name)
    const labels = Object.entries((obj.metadata.labels ?? {}) as Record<string, string>).filter(([k]) => !k.startsWith('kubernetes.io/') && !k.startsWith('beta.kubernetes.io/')).map(([k, v]) => `${k}=${v}`).join(',') || '-'
    const ready = ((obj.status.conditions ?? []) as K8sObject[]).find((c) => c.type === 'Ready')?.status === 'True' ? green('Ready') : red('NotReady')
    out(indent(`${n.name.padEnd(14)} ${ready}  ${n.ip.padEnd(12)} labels ${labels.padEnd(22)} containerd runtimes runc${n.shims().map((x) => `, ${x.handler} (${x.runtimeType})`).join('')}`))
  }
  for (const rc of SEED_RUNTIME_CLASSES) {
    const sel = Object.entries(rc.scheduling?.nodeSelector ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',')
    out(indent(`RuntimeClass ${rc.metadata.name.padEnd(15)} handler ${rc.handler.padEnd(9)} nodeSelector ${sel}`))
  }
  out(indent(dim(`Each node: its own containerd 1.6 (runc + shims) and kubelet ${'v1.36.3'}, a CNI bridge on 10.244.x.0/24; all inside the demo's own network namespace.`)))
  out(indent(dim(`wasm-admission: helm release ${env.release} in namespace ${env.releaseNamespace}, webhook ${env.webhook.url} (local process)`)))
  await env.createNamespace(NS)

  // --- the Spin Deployment
  section('The seed\'s Deployment of a Spin app, without runtimeClassName')
  const deploy = deploymentObject('spin-hello', s['spin-ticker'].ref, 1)
  out(indent(`${cyan(`$ kubectl apply -n ${NS} -f -`)}\n${yaml(deploy).replaceAll(env.registry.host, '127.0.0.1:PORT')}`))
  await env.apply(deploy, { namespace: NS })
  const first = await waitFor('the first spin-hello pod', async () => (await env.list('pods', NS, 'app=spin-hello'))[0])
  out(indent(`The controller-manager created pod ${bold(first.metadata.name)}; the apiserver stored it with:`))
  for (const l of describeAdmission(deploy.spec.template as K8sObject, first, SEED_RUNTIME_CLASSES)) out(indent(l, 6))
  const firstRun = await settle(env, NS, first.metadata.name)
  out()
  if (!firstRun.ok) {
    out(indent(`${red('✗ not running')} on ${bold(String(firstRun.pod.spec.nodeName))}: ${firstRun.why}`))
    out(indent(dim(shimBinaries() ? 'the shim on node-spin could not run it (see the node\'s containerd log)' : NO_SHIM)))
  } else {
    const running = firstRun.pod
    out()
    out(indent(`${green('✓ Running')} on ${bold(running.spec.nodeName)} (${dim('the scheduler followed the nodeSelector spin=yes the RuntimeClass added')})`))
    out(indent(kubectlLine(['logs', '-n', NS, first.metadata.name])))
    out(indent(await logsOf(env, NS, first.metadata.name, 'tick 1'), 6))

    out()
    out(indent(kubectlLine(['scale', 'deployment/spin-hello', '--replicas=3', '-n', NS])))
    await env.kubectl(['scale', 'deployment/spin-hello', '--replicas=3', '-n', NS])
    const three = await waitFor('3 spin-hello pods Running', async () => {
      const pods = (await env.list('pods', NS, 'app=spin-hello')).filter((p) => !p.metadata.deletionTimestamp)
      return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running') ? pods : undefined
    }, 180_000)
    out(indent(await podsTableWide(env, NS, 'app=spin-hello')))
    const where = [...new Set(three.map((p) => p.spec.nodeName as string))]
    out(indent(where.length === 1 ? green(`✓ all 3 on ${where[0]}`) : red(`✗ spread over ${where.join(', ')}`)))
    if (where.length !== 1 || where[0] !== 'node-spin') throw new Error(`expected all replicas on node-spin, got ${where.join(', ')}`)

    const spinNode = nodes.node('node-spin')
    out()
    out(indent(`${cyan('$ ps -o pid,rss,args -p $(pgrep -f containerd-shim-spin-v2)')}   ${dim('# the shim processes containerd started on node-spin, one per pod')}`))
    const ps = await shimPs(spinNode, 'containerd-shim-spin-v2')
    out(indent(ps.text.trimEnd(), 6))
    out(indent(ps.count === 3 ? green('✓ 3 shim processes, one per replica') : yellow(`${ps.count} shim processes`)))
    out(indent(cyan(`$ ctr -a <node-spin>/containerd.sock -n k8s.io task ls`)))
    out(indent((await spinNode.ctr(['task', 'ls'])).stdout.trimEnd(), 6))
    out(indent(dim('(each pod: its sandbox and its app container, both run by the shim)')))
  }

  // --- other Wasm styles and a Linux pod
  section('A WASI module and a Linux image, as bare pods')
  // wasi-hello prints its line and exits: --restart=Never, so the pod ends Succeeded rather than restarting.
  const bare: Array<{ name: string; image: string; what: string; needle: string; once?: boolean }> = [
    { name: 'wasi-hello', image: s['wasi-hello'].ref, what: 'WASI preview1 command module (wasip1/wasm, Entrypoint /hello.wasm), prints and exits', needle: 'hello from wasm', once: true },
    { name: 'plain-linux', image: s.linux.ref, what: 'an ordinary Linux image (busybox)', needle: 'hello from linux' },
  ]
  for (const k of bare) {
    const pod = podObject(k.name, k.image)
    if (k.once) pod.spec.restartPolicy = 'Never'
    out(indent(`${cyan(`$ kubectl run ${k.name} -n ${NS} --image=${short(k.image)}${k.once ? ' --restart=Never' : ''}`)}   ${dim(`# ${k.what}`)}`))
    await env.apply(pod, { namespace: NS, verb: 'create' })
    const stored = await env.get('pod', k.name, NS)
    for (const l of describeAdmission(pod, stored, SEED_RUNTIME_CLASSES)) out(indent(l, 6))
    const done = await settle(env, NS, k.name)
    if (done.ok) out(indent(`${green(`✓ ${done.why}`)} on ${String(done.pod.spec.nodeName)}; ${cyan(`kubectl logs ${k.name}`)}: ${await logsOf(env, NS, k.name, k.needle, 1)}`, 6))
    else out(indent(`${red('✗ not running')} on ${String(done.pod.spec.nodeName)}: ${done.why}${shimBinaries() ? '' : `\n${dim(NO_SHIM)}`}`, 6))
  }

  section('Other packaging styles (server-side dry run: what would be stored)')
  const cases: Array<{ name: string; image: string; what: string }> = [
    { name: 'wasi-component', image: s['cncf-component'].ref, what: 'WASI component (wkg / wash push)' },
    { name: 'crun-app', image: s['crun-annotated'].ref, what: 'crun image (buildah --annotation module.wasm.image/variant)' },
    { name: 'spin-mixed-index', image: s['mixed-index'].ref, what: 'Docker manifest list: linux/amd64 + wasi/wasm' },
  ]
  for (const k of cases) {
    const pod = podObject(k.name, k.image)
    out(indent(`${cyan(`$ kubectl run ${k.name} -n ${NS} --image=${short(k.image)} --dry-run=server`)}   ${dim(`# ${k.what}`)}`))
    const r = await env.apply(pod, { namespace: NS, verb: 'create', dryRun: true, allowFailure: true })
    if (r.code !== 0) {
      out(indent(`${red('✗ denied:')} ${denial(r.stderr).replaceAll(`${env.registry.host}/samples/`, '…/')}`, 6))
      continue
    }
    for (const l of describeAdmission(pod, JSON.parse(r.stdout) as K8sObject, SEED_RUNTIME_CLASSES)) out(indent(l, 6))
  }

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

  // --- the counterfactual
  section('Without wasm-admission: the same Deployment in a namespace where it is off')
  await env.createNamespace(OFF_NS, { 'wasm-admission.io/mode': 'off' })
  out(indent(cyan(`$ kubectl create namespace ${OFF_NS} && kubectl label namespace ${OFF_NS} wasm-admission.io/mode=off`)))
  out(indent(cyan(`$ kubectl apply -n ${OFF_NS} -f deployment-spin-hello.yaml`)))
  await env.apply(deploymentObject('spin-hello', s['spin-ticker'].ref, 1), { namespace: OFF_NS })
  const failed = await waitFor('the runc failure of the spin-hello pod', async () => {
    const p = (await env.list('pods', OFF_NS, 'app=spin-hello'))[0]
    const st = p?.status?.containerStatuses?.[0]?.state
    const reason = st?.waiting?.reason ?? st?.terminated?.reason
    return p && reason && reason !== 'ContainerCreating' ? { pod: p, reason: String(reason), message: String(st?.waiting?.message ?? st?.terminated?.message ?? '') } : undefined
  }, 180_000)
  const fp = failed.pod
  out(indent(`Pod ${bold(fp.metadata.name)}: runtimeClassName ${fp.spec.runtimeClassName ?? red('(none: the default runtime, runc)')}, node ${fp.spec.nodeName}`))
  out(indent(`${red(`✗ ${failed.reason}`)}: ${failed.message}`, 6))
  const evs = (await env.list('events', OFF_NS)).filter((e) => e.involvedObject?.name === fp.metadata.name && e.type === 'Warning')
  for (const e of evs.slice(-2)) out(indent(`${yellow(`event ${e.reason}:`)} ${String(e.message).replaceAll(`${env.registry.host}/samples/`, '…/')}`, 6))
  out(indent(dim('runc has nothing to run in a Spin image (no entrypoint, only spin.toml and a .wasm): this is what wasm-admission prevents.')))

  section('About Spin')
  out(indent(`Real Spin apps (HTTP triggers, spin.toml manifests) need the Spin runtime, containerd-shim-spin, which is not on crates.io.`))
  out(indent(`Here the Spin handler is registered with the project's wasmtime shim (${dim('containerd-shim-spin-v2 = a hard link to containerd-shim-wasmtime-v1')}),`))
  out(indent(`which runs WASI modules, not Spin apps: for a Spin-style image (command ["/"] from wasm-admission) it runs the module`))
  out(indent(`the first \`source = "..."\` line of /spin.toml names as a plain WASI command (no HTTP trigger): placement, not Spin semantics.`))
}

// ------------------------------------------------------------------ main

let env: E2EEnv | undefined
let exiting = false

async function main(): Promise<number> {
  out(bold('wasm-admission demo: the seed tutorial on a real control plane and real worker nodes'))
  const missing = realNodesMissing()
  if (missing) throw new Error(`real nodes cannot start: ${missing}`)
  if (!shimBinaries()) out(yellow(`Note: ${NO_SHIM}.`))
  out(dim('Starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a registry with sample images, 3 worker nodes (containerd + kubelet), the webhook, and helm install...'))
  env = await startE2EEnv({ keep: false, realNodes: seedRealNodeSpecs(shimBinaries()), log: (l) => (VERBOSE ? out(dim(`  [${secs()}] ${l}`)) : undefined) })
  const t = env.nodes!.timings
  out(dim(`Up in ${secs()} (nodes: set-up ${(t.setupMs / 1000).toFixed(1)} s, Ready ${(t.readyMs / 1000).toFixed(1)} s after their kubelets started).`))
  await replay(env)
  const mem = env.nodes!.memory()
  out()
  out(dim(`Memory (RSS) per node: ${Object.entries(mem).map(([n, m]) => `${n} kubelet ${Math.round(m.kubelet / 1024)} MiB + containerd ${Math.round(m.containerd / 1024)} MiB + shims ${Math.round(m.shims / 1024)} MiB`).join('; ')}`))
  out(green(bold(`✓ Done in ${secs()}: ${shimBinaries() ? 'Wasm pods placed on the nodes with their shim, ' : 'Wasm pods placed on the labelled nodes (no shim built), '}denials explained, runc failing without wasm-admission.`)))

  if (!KEEP) {
    await env.stop()
    return 0
  }
  const tools = toolPaths()
  out()
  out(bold('Everything is still running (--keep), inside the demo\'s network and mount namespace. In another terminal:'))
  out(indent(`nsenter --net=/proc/${process.pid}/ns/net --mount=/proc/${process.pid}/ns/mnt bash`))
  out(indent(`export KUBECONFIG=${env.kubeconfigPath}`))
  out(indent(`export PATH=${tools.kubectl.replace(/\/kubectl$/, '')}:${tools.helm.replace(/\/helm$/, '')}:$PATH`))
  out(indent('kubectl get pods -A -o wide'))
  out(indent('kubectl get runtimeclass,nodes --show-labels'))
  for (const n of env.nodes!.nodes) out(indent(`ctr -a ${n.socket} -n k8s.io task ls   # ${n.name}`))
  out(indent(`curl -s http://127.0.0.1:${env.webhook.healthPort}/metrics | grep wasm_admission_requests_total`))
  out(indent(`webhook log: ${env.webhook.logFile}`))
  out(bold(`Stop it: Ctrl-C here, or kill ${process.pid}`))
  for (;;) await delay(3_600_000)
}

await runInOwnNamespaces(async () => {
  // With --keep, Ctrl-C / SIGTERM is the normal way to stop: exit 0 after a clean stop. The harness'
  // own handlers (control-plane.ts, e2e-env.ts, real-nodes.ts) have already killed the processes synchronously.
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
  await main().then(
    (code) => process.exit(code),
    async (err: unknown) => {
      process.stderr.write(`\n${red('demo failed:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      await env?.stop().catch(() => undefined)
      process.exit(1)
    },
  )
})
