// The body of real-nodes.test.ts (runs inside the harness's network + mount namespace).
//
// The seed cluster on real nodes: node-runc (runc only), node-wasmtime (label wasmtime-enabled=yes,
// RuntimeClass wasm1, the wasmtime shim when built), node-spin (label spin=yes, RuntimeClass spin-test,
// the shim under the Spin handler when built). What runc does with Wasm images when wasm-admission is
// off; every Wasm pod wasm-admission admits running on the node with its shim, its output in `kubectl
// logs`; a Linux pod under runc, a denied pod never created, and a node losing its shim and label turning
// new admissions into denials with the fix while its running Wasm pod keeps running.
import t from 'tap'
import { deploymentObject, podObject, startE2EEnv, waitFor, MODE_LABEL, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { realNodesMissing, seedRealNodeSpecs, shimBinaries } from '../harness/real-nodes.js'
import { HELLO_LINUX_LINE, HELLO_WASM_LINE, TICKER_START_LINE } from '../harness/runnable-images.js'
import { dumpLogsOnFailure, e2eSkip, eventsFor } from './helpers.js'
import { checkNodePod } from '../../src/facts/cluster/eligibility.js'
import { summarizeNode } from '../../src/facts/cluster/node-summary.js'
import { schedulingOf } from '../../src/policy/decide.js'

const skip = e2eSkip(t) || realNodesMissing() || false
if (skip && process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1') t.fail(`real nodes unavailable: ${skip}`)
const ON = 'wasm'
const OFF = 'wasm-off'

async function pod(env: E2EEnv, name: string, ns: string): Promise<K8sObject> {
  return env.get('pod', name, ns)
}

t.test('real nodes: runc, wasm-admission on and off', { skip, timeout: 840_000 }, async (t) => {
  // The webhook also runs the drift controller (docs/drift.md): the shim-loss step below checks that
  // the running Wasm pod is reported once its real node loses the runtime.
  const env = await startE2EEnv({ realNodes: seedRealNodeSpecs(shimBinaries()), samples: ['wasi-hello', 'wasi-ticker', 'spin-ticker', 'linux', 'pause', 'slight-scratch'], webhookArgs: ['--drift', '--drift-debounce-ms', '200'] })
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const nodes = env.nodes!
  t.comment(`3 nodes: set-up ${nodes.timings.setupMs} ms, Ready ${nodes.timings.readyMs} ms after the kubelets started`)
  const s = env.samples
  await env.createNamespace(ON)
  await env.createNamespace(OFF, { [MODE_LABEL]: 'off' })

  const wasmCases = [
    { name: 'wasi-hello', image: s['wasi-hello'].ref, rc: 'wasm1', runcError: 'exec: "/hello.wasm": permission denied' },
    { name: 'wasi-ticker', image: s['wasi-ticker'].ref, rc: 'wasm1', runcError: 'exec: "/ticker.wasm": permission denied' },
    // Spin-style (spin.toml, no entrypoint): wasm-admission would add command ["/"]; runc has no command at all.
    { name: 'spin-ticker', image: s['spin-ticker'].ref, rc: 'spin-test', runcError: 'no command specified' },
  ]
  for (const c of wasmCases) {
    t.test(`${c.name}: routed to ${c.rc} with wasm-admission; without it (namespace mode off) it fails under runc`, async (t) => {
      const dry = await env.apply(podObject(c.name, c.image), { namespace: ON, verb: 'create', dryRun: true })
      t.equal((JSON.parse(dry.stdout) as K8sObject).spec.runtimeClassName, c.rc, 'wasm-admission sets the RuntimeClass')

      await env.apply(podObject(c.name, c.image), { namespace: OFF, verb: 'create' })
      t.notOk((await pod(env, c.name, OFF)).spec.runtimeClassName, 'mode off: no runtimeClassName, the default runtime (runc)')
      const why = await waitFor(`runc's error for ${OFF}/${c.name}`, async () => {
        const p = await pod(env, c.name, OFF)
        const st = p.status?.containerStatuses?.[0]?.state ?? {}
        const msg = `${st.waiting?.message ?? ''} ${st.terminated?.message ?? ''}`
        if (msg.includes(c.runcError)) return { reason: String(st.waiting?.reason ?? st.terminated?.reason), message: msg.trim() }
        const ev = (await eventsFor(env, OFF, c.name)).find((e) => String(e.message).includes(c.runcError))
        return ev ? { reason: String(ev.reason), message: String(ev.message) } : undefined
      }, 180_000)
      t.comment(`${OFF}/${c.name} on ${(await pod(env, c.name, OFF)).spec.nodeName}: ${why.reason}: ${why.message}`)
      t.match(why.message, c.runcError, 'the container fails: runc cannot run a Wasm image')
      t.not((await pod(env, c.name, OFF)).status?.phase, 'Succeeded', 'never succeeds')
    })
  }

  const runCases = [
    { name: 'wasi-hello', image: s['wasi-hello'].ref, rc: 'wasm1', node: 'node-wasmtime', line: HELLO_WASM_LINE },
    { name: 'wasi-ticker', image: s['wasi-ticker'].ref, rc: 'wasm1', node: 'node-wasmtime', line: TICKER_START_LINE },
    // command ["/"] from wasm-admission; the shim under the Spin handler runs the module /spin.toml names.
    { name: 'spin-ticker', image: s['spin-ticker'].ref, rc: 'spin-test', node: 'node-spin', line: TICKER_START_LINE },
  ]
  for (const c of runCases) {
    t.test(`${c.name}: admitted by wasm-admission, runs on ${c.node} through its shim and prints its line`, async (t) => {
      const started = Date.now()
      await env.apply(podObject(c.name, c.image), { namespace: ON, verb: 'create' })
      const p = await waitFor(`${ON}/${c.name} Running or Succeeded`, async () => {
        const x = await pod(env, c.name, ON)
        return x.status?.phase === 'Running' || x.status?.phase === 'Succeeded' ? x : undefined
      }, 180_000)
      t.equal(p.spec.runtimeClassName, c.rc, 'routed by wasm-admission')
      t.equal(p.spec.nodeName, c.node, 'on the node with the shim')
      const logs = await waitFor(`${ON}/${c.name} log line`, async () => {
        const r = await env.kubectl(['logs', c.name, '-n', ON], { allowFailure: true })
        return r.code === 0 && r.stdout.includes(c.line) ? r.stdout : undefined
      }, 60_000)
      t.comment(`${ON}/${c.name} ${p.status?.phase} on ${p.spec.nodeName} after ${Date.now() - started} ms; log: ${JSON.stringify(logs.split('\n').slice(0, 2).join(' | '))}`)
      t.match(logs, c.line, 'its output in kubectl logs')
    })
  }

  t.test('a Linux pod runs under runc and prints its line', async (t) => {
    await env.apply(podObject('linux', s.linux.ref), { namespace: ON, verb: 'create' })
    const p = await waitFor('linux Running', async () => {
      const x = await pod(env, 'linux', ON)
      return x.status?.phase === 'Running' ? x : undefined
    }, 180_000)
    t.notOk(p.spec.runtimeClassName, 'not routed to a Wasm RuntimeClass')
    t.ok(nodes.nodes.some((n) => n.name === p.spec.nodeName), `on a real node (${p.spec.nodeName})`)
    const logs = await waitFor('the Linux pod log line', async () => {
      const r = await env.kubectl(['logs', 'linux', '-n', ON], { allowFailure: true })
      return r.code === 0 && r.stdout.includes(HELLO_LINUX_LINE) ? r.stdout : undefined
    }, 60_000)
    t.match(logs, HELLO_LINUX_LINE, 'kubectl logs through the kubelet')
  })

  t.test('a pod wasm-admission denies is never created', async (t) => {
    const r = await env.apply(podObject('linux-under-wasm1', s.linux.ref, { runtimeClassName: 'wasm1' }), { namespace: ON, verb: 'create', allowFailure: true })
    t.not(r.code, 0)
    t.match(r.stderr, /denied the request: .*is a Linux image/)
    t.match((await env.kubectl(['get', 'pod', 'linux-under-wasm1', '-n', ON], { allowFailure: true })).stderr, /NotFound/, 'no pod stored')
    const r2 = await env.apply(podObject('slight-app', s['slight-scratch'].ref), { namespace: ON, verb: 'create', allowFailure: true })
    t.match(r2.stderr, /0\/3 nodes can run RuntimeClass slight-nowhere \(handler slight\)/)
    t.match((await env.kubectl(['get', 'pod', 'slight-app', '-n', ON], { allowFailure: true })).stderr, /NotFound/, 'no pod stored')
  })

  t.test('node-wasmtime loses its runtime and label: new WASI admissions are denied with the fix', async (t) => {
    const lastTick = async (): Promise<number> => {
      const r = await env.kubectl(['logs', 'wasi-ticker', '-n', ON], { allowFailure: true })
      return Math.max(0, ...[...r.stdout.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1])))
    }
    const shimsBefore = nodes.node('node-wasmtime').shimProcesses().length
    t.comment(`node-wasmtime shim processes before: ${shimsBefore}`)
    await nodes.node('node-wasmtime').reconfigureShims([])
    const tickAtRestart = await lastTick()
    await env.kubectl(['label', 'node', 'node-wasmtime', 'wasmtime-enabled-'])
    const denial = await waitFor('a denial for a new WASI pod', async () => {
      const r = await env.apply(podObject('wasi-hello-2', s['wasi-hello'].ref), { namespace: ON, verb: 'create', allowFailure: true })
      return r.code !== 0 ? r.stderr : undefined
    }, 60_000)
    t.match(denial, /0\/3 nodes can run RuntimeClass wasm1 \(handler wasmtime\): 3 do not match nodeSelector wasmtime-enabled=yes; fix: label a node with wasmtime-enabled=yes/, 'denied, with the fix')
    t.match((await env.kubectl(['get', 'pod', 'wasi-hello-2', '-n', ON], { allowFailure: true })).stderr, /NotFound/)
    // Drift: the running ticker, bound to node-wasmtime, is now a pod this cluster could not place.
    const entry = await waitFor('the PolicyReport to list the running wasi-ticker', async () => {
      const r = await env.kubectl(['get', 'policyreports.wgpolicyk8s.io', 'wasm-admission', '-n', ON, '-o', 'json'], { allowFailure: true })
      if (r.code !== 0) return undefined
      return ((JSON.parse(r.stdout) as K8sObject).results as K8sObject[] | undefined)?.find((x) => x.resources?.[0]?.kind === 'Pod' && x.resources?.[0]?.name === 'wasi-ticker')
    }, 60_000)
    t.equal(entry.rule, 'no-eligible-node')
    t.match(entry.message, /0\/3 nodes can run RuntimeClass wasm1 \(handler wasmtime\)/)
    const warned = await waitFor('a WasmWorkloadAtRisk Event on the wasi-ticker pod', async () => {
      const items = (JSON.parse((await env.kubectl(['get', 'events.events.k8s.io', '-n', ON, '-o', 'json'])).stdout) as K8sObject).items as K8sObject[]
      return items.find((e) => e.reason === 'WasmWorkloadAtRisk' && e.regarding?.kind === 'Pod' && e.regarding?.name === 'wasi-ticker')
    }, 60_000)
    t.match(warned.note, /fix: /)
    const ready = await waitFor('node-wasmtime Ready after containerd restarted', async () => {
      const n = await env.get('node', 'node-wasmtime')
      return ((n.status.conditions ?? []) as K8sObject[]).find((c) => c.type === 'Ready')?.status === 'True'
    }, 120_000)
    t.ok(ready, 'the node stays Ready with its containerd restarted')
    // The ticker admitted before keeps running: containerd's restart leaves its shim alone.
    const ticker = await pod(env, 'wasi-ticker', ON)
    t.equal(ticker.status?.phase, 'Running', 'the running Wasm pod keeps running')
    t.equal(ticker.spec.nodeName, 'node-wasmtime')
    const before = Number(ticker.status?.containerStatuses?.[0]?.restartCount ?? 0)
    // Still executing, not just listed: a tick newer than the last one logged when containerd came back.
    const tick = await waitFor('a new tick from the ticker after the shim config is gone', async () => {
      const n = await lastTick()
      return n > tickAtRestart ? n : undefined
    }, 60_000)
    t.comment(`wasi-ticker: tick ${tickAtRestart} when containerd restarted without the shim, tick ${tick} since`)
    t.ok(tick > tickAtRestart, 'the ticker keeps ticking')
    t.equal(Number((await pod(env, 'wasi-ticker', ON)).status?.containerStatuses?.[0]?.restartCount ?? 0), before, 'not restarted')
    t.ok(nodes.node('node-wasmtime').shimProcesses().length >= 1, 'its shim process is still there')
  })

  // Drift on real nodes (docs/drift.md): a Spin Deployment admitted while node-spin has its shim; node-spin
  // then loses the shim (containerd restarted without it) and its spin=yes label; the namespace's
  // PolicyReport lists the Deployment, a Warning Event is on it and the at-risk gauge counts it; the shim
  // and the label come back and the entry clears, with a Normal Event.
  t.test('a Spin Deployment on node-spin: drift report, Event and metric when the node loses its shim, cleared when it returns', async (t) => {
    const APP = 'spin-app'
    const spinNode = nodes.node('node-spin')
    const shims = spinNode.shims()
    const atRisk = async (): Promise<number> => {
      const m = new RegExp(`^wasm_admission_drift_workloads_at_risk\\{namespace="${ON}",rule="no-eligible-node"\\} (\\S+)$`, 'm').exec(await env.webhook.metrics())
      return m ? Number(m[1]) : 0
    }
    const deploymentEntry = async (): Promise<K8sObject | undefined> => {
      const r = await env.kubectl(['get', 'policyreports.wgpolicyk8s.io', 'wasm-admission', '-n', ON, '-o', 'json'], { allowFailure: true })
      if (r.code !== 0) return undefined
      return ((JSON.parse(r.stdout) as K8sObject).results as K8sObject[] | undefined)?.find((x) => x.resources?.[0]?.kind === 'Deployment' && x.resources?.[0]?.name === APP)
    }
    const deploymentEvents = async (reason: string): Promise<K8sObject[]> => {
      const items = (JSON.parse((await env.kubectl(['get', 'events.events.k8s.io', '-n', ON, '-o', 'json'])).stdout) as K8sObject).items as K8sObject[]
      return items.filter((e) => e.reason === reason && e.regarding?.kind === 'Deployment' && e.regarding?.name === APP)
    }
    await env.apply(deploymentObject(APP, s['spin-ticker'].ref), { namespace: ON, verb: 'create' })
    const running = await waitFor(`${ON}/${APP}'s pod Running`, async () => {
      const items = (JSON.parse((await env.kubectl(['get', 'pods', '-n', ON, '-l', `app=${APP}`, '-o', 'json'])).stdout) as K8sObject).items as K8sObject[]
      return items.find((p) => p.status?.phase === 'Running')
    }, 180_000)
    t.equal(running.spec.nodeName, 'node-spin', 'the Deployment runs on node-spin')
    t.equal(running.spec.runtimeClassName, 'spin-test')
    t.notOk(await deploymentEntry(), 'admitted with the shim present: no report entry')
    const before = await atRisk()

    const removed = Date.now()
    await spinNode.reconfigureShims([])
    await env.kubectl(['label', 'node', 'node-spin', 'spin-'])
    const entry = await waitFor('the PolicyReport to list the Spin Deployment', deploymentEntry, 60_000)
    t.comment(`node-spin lost its shim and label: report entry after ${Date.now() - removed} ms`)
    t.equal(entry.rule, 'no-eligible-node')
    t.equal(entry.result, 'fail')
    t.match(entry.message, /0\/3 nodes can run RuntimeClass spin-test \(handler spin\)/)
    t.match(entry.message, /fix: /)
    const [warning] = await waitFor('a WasmWorkloadAtRisk Event on the Deployment', async () => {
      const e = await deploymentEvents('WasmWorkloadAtRisk')
      return e.length > 0 ? e : undefined
    }, 60_000)
    t.equal(warning!.type, 'Warning')
    t.match(warning!.note, /spin-test.*fix: /)
    const counted = await waitFor('the at-risk gauge to count it', async () => {
      const n = await atRisk()
      return n > before ? n : undefined
    }, 60_000)
    t.ok(counted > before, `at-risk gauge ${before} -> ${counted}`)

    await spinNode.reconfigureShims(shims)
    await env.kubectl(['label', 'node', 'node-spin', 'spin=yes'])
    await waitFor('the report entry to clear', async () => ((await deploymentEntry()) === undefined ? true : undefined), 60_000)
    t.pass('the entry clears when the shim and the label return')
    await waitFor('a WasmWorkloadRestored Event on the Deployment', async () => ((await deploymentEvents('WasmWorkloadRestored')).length > 0 ? true : undefined), 60_000)
    await waitFor('the at-risk gauge back to its value before', async () => ((await atRisk()) === before ? true : undefined), 60_000)
    t.equal((await deploymentEvents('WasmWorkloadAtRisk')).length, 1, 'one Warning Event for one change')
    await waitFor('node-spin Ready after containerd restarted', async () => {
      const n = await env.get('node', 'node-spin')
      return ((n.status.conditions ?? []) as K8sObject[]).find((c) => c.type === 'Ready')?.status === 'True' ? true : undefined
    }, 120_000)
  })

  // Pods with spec.nodeName skip the scheduler; the node's kubelet admits or rejects them. The rule
  // (checkNodePod for a bound pod, docs/cluster-facts.md) is cited from pkg/kubelet/lifecycle/predicate.go;
  // here the real kubelet of node-runc is the oracle: each case changes the node, binds a pod to it,
  // and compares the kubelet's verdict (Running, or Failed with its rejection reason) with ours.
  t.test('bound pods: the real kubelet\'s admission agrees with checkNodePod', async (t) => {
    const NODE = 'node-runc'
    const FINALIZER = 'wasm-admission.test/observe'
    type Case = { name: string; node: string[]; undo: string[]; spec?: Record<string, unknown> }
    const cases: Case[] = [
      { name: 'cordoned', node: ['cordon', NODE], undo: ['uncordon', NODE] },
      { name: 'noschedule', node: ['taint', 'node', NODE, 'kt=a:NoSchedule'], undo: ['taint', 'node', NODE, 'kt=a:NoSchedule-'] },
      { name: 'prefernoschedule', node: ['taint', 'node', NODE, 'kt=a:PreferNoSchedule'], undo: ['taint', 'node', NODE, 'kt=a:PreferNoSchedule-'] },
      { name: 'noexecute', node: ['taint', 'node', NODE, 'kt=a:NoExecute'], undo: ['taint', 'node', NODE, 'kt=a:NoExecute-'] },
      { name: 'noexecute-tolerated', node: ['taint', 'node', NODE, 'kt=a:NoExecute'], undo: ['taint', 'node', NODE, 'kt=a:NoExecute-'], spec: { tolerations: [{ key: 'kt', operator: 'Exists', effect: 'NoExecute' }] } },
      { name: 'noexecute-tolerated-for-60s', node: ['taint', 'node', NODE, 'kt=a:NoExecute'], undo: ['taint', 'node', NODE, 'kt=a:NoExecute-'], spec: { tolerations: [{ key: 'kt', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }] } },
      { name: 'noexecute-other-value', node: ['taint', 'node', NODE, 'kt=a:NoExecute'], undo: ['taint', 'node', NODE, 'kt=a:NoExecute-'], spec: { tolerations: [{ key: 'kt', operator: 'Equal', value: 'b' }] } },
      { name: 'nodeselector', node: ['label', 'node', NODE, 'kl=a'], undo: ['label', 'node', NODE, 'kl-'], spec: { nodeSelector: { kl: 'b' } } },
      { name: 'nodeselector-match', node: ['label', 'node', NODE, 'kl=a'], undo: ['label', 'node', NODE, 'kl-'], spec: { nodeSelector: { kl: 'a' } } },
      {
        name: 'affinity-notin', node: ['label', 'node', NODE, 'kl=a'], undo: ['label', 'node', NODE, 'kl-'],
        spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kl', operator: 'NotIn', values: ['a'] }] }] } } } },
      },
    ]
    for (const c of cases) {
      await env.kubectl(c.node)
      const name = `bound-${c.name}`
      const obj = podObject(name, s.pause.ref)
      obj.metadata.finalizers = [FINALIZER]
      obj.spec = { ...obj.spec, ...c.spec, nodeName: NODE, terminationGracePeriodSeconds: 0 }
      await env.apply(obj, { namespace: OFF, verb: 'create' })
      const seen = await waitFor(`the kubelet's verdict on ${name}`, async () => {
        const p = await pod(env, name, OFF)
        const phase = p.status?.phase as string | undefined
        return phase === 'Running' || phase === 'Failed' ? p : undefined
      }, 90_000)
      const ours = checkNodePod(summarizeNode(await env.get('node', NODE)), schedulingOf(seen.spec), seen.spec.tolerations ?? [])
      const kubelet = seen.status.phase === 'Running' ? 'admitted' : `rejected (${seen.status.reason}: ${seen.status.message})`
      t.equal(ours === undefined, seen.status.phase === 'Running', `${c.name}: kubelet ${kubelet}, checkNodePod ${ours ? `${ours.code} ${ours.key}` : 'eligible'}`)
      await env.kubectl(c.undo)
      await env.kubectl(['patch', 'pod', name, '-n', OFF, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]'])
      await env.kubectl(['delete', 'pod', name, '-n', OFF, '--wait=true', '--grace-period=0', '--force'], { allowFailure: true })
    }
  })

  t.test('memory of the nodes', async (t) => {
    for (const [name, m] of Object.entries(nodes.memory())) {
      t.comment(`${name}: kubelet ${Math.round(m.kubelet / 1024)} MiB, containerd ${Math.round(m.containerd / 1024)} MiB, shims ${Math.round(m.shims / 1024)} MiB`)
      t.ok(m.kubelet > 0 && m.containerd > 0, `${name}: kubelet and containerd running`)
    }
  })
})
