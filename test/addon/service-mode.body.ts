// The body of service-mode.test.ts, run inside the harness's own network + mount namespace.
//
// The image from the project's Dockerfile (test/harness/image.ts) in a real registry; kube-apiserver,
// kube-controller-manager and kube-scheduler; two real worker nodes (containerd + kubelet); then
// `helm install` with the chart's defaults (service mode, Helm-generated certificates, two replicas,
// PDB, ServiceAccount and RBAC as shipped) and only what this cluster's addresses need:
// - the apiserver calls the webhook Service's endpoints directly (--enable-aggregator-routing=true:
//   there is no kube-proxy, so a ClusterIP would not route);
// - the pods reach the apiserver at 10.0.0.1, the `kubernetes` Service's ClusterIP (a SAN of the
//   apiserver certificate), put on the harness namespace's loopback device; the apiserver binds
//   there too. Without kube-proxy the Service port (443) is not translated, so the chart's extraEnv
//   sets KUBERNETES_SERVICE_PORT to the apiserver's port; the connection is otherwise the in-cluster
//   one (projected service-account token and CA);
// - the registry (loopback) is forwarded to 10.0.0.1:<same port> (socat), the address the nodes and
//   the webhook pods use; the chart's registry.config makes it plain HTTP and an allowed private host.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { stringify as toYaml } from 'yaml'

import { controlPlaneToolsAvailable, startControlPlane, type ControlPlane } from '../harness/control-plane.js'
import { startClusterDns } from '../harness/cluster-dns.js'
import { buildImage, buildTestImage, pushImage } from '../harness/image.js'
import { assertOwnNetns } from '../harness/own-netns.js'
import { run, waitFor } from '../harness/process.js'
import { realNodesMissing, startRealNodes } from '../harness/real-nodes.js'
import { registryAvailable, startRegistry } from '../harness/registry.js'
import { pushSampleImages } from '../harness/sample-images.js'
import { toolPaths } from '../harness/tools.js'

const CHART = join(import.meta.dirname, '..', '..', 'charts', 'wasm-admission')
const SVC_IP = '10.0.0.1'
const DNS_IP = '10.0.0.10'
const RELEASE = 'wasm-admission'
const NS = 'wasm-admission'
const APPS = 'apps'

type Obj = Record<string, any>

/** POST a Pod as the admin; the status and the apiserver's message. */
function createPod(cp: ControlPlane, pod: Obj): Promise<{ status: number; message: string }> {
  return new Promise((resolve) => {
    const u = new URL(`${cp.server}/api/v1/namespaces/${APPS}/pods`)
    const body = JSON.stringify(pod)
    const req = request(u, { method: 'POST', ca: cp.caPem, cert: cp.admin.certPem, key: cp.admin.keyPem, agent: false, timeout: 30_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => {
        let message = ''
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? ''
        } catch {
          message = text.slice(0, 300)
        }
        resolve({ status: res.statusCode ?? 0, message })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ status: 0, message: e.message }))
    req.end(body)
  })
}

interface LoadCounts {
  sent: number
  /** Linux pods admitted (201). */
  admitted: number
  /** Linux pods under the spin RuntimeClass denied by the webhook's own message (403). */
  denied: number
  /** Answers that are neither: the webhook not reached, a timeout, an error. */
  failed: number
  /** Pods that had to be denied but were created. */
  wronglyAdmitted: number
  failures: string[]
}

/**
 * Creates pods continuously (two loops): a Linux pod that must be admitted, then one that must be
 * denied. With `webhookGone` (helm uninstall), the second may also be admitted: the webhook is going.
 */
function startLoad(cp: ControlPlane, linuxImage: string, phase: string, opts: { webhookGone?: boolean } = {}): { stop(): Promise<LoadCounts>; peek(): LoadCounts } {
  const c: LoadCounts = { sent: 0, admitted: 0, denied: 0, failed: 0, wronglyAdmitted: 0, failures: [] }
  let running = true
  let n = 0
  const loop = async (): Promise<void> => {
    while (running) {
      const i = n++
      const bad = i % 2 === 1
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `load-${phase}-${i}` },
        // Gated: admitted pods are stored, never scheduled (the load is on admission, not on the nodes).
        spec: { schedulingGates: [{ name: 'wasm-admission.io/hold' }], containers: [{ name: 'app', image: linuxImage }], ...(bad ? { runtimeClassName: 'spin-test' } : {}) },
      }
      c.sent++
      const r = await createPod(cp, pod)
      if (!bad && r.status === 201) c.admitted++
      else if (bad && r.status === 403 && /is a Linux image/.test(r.message)) c.denied++
      else if (bad && r.status === 201 && opts.webhookGone) c.admitted++
      else if (bad && r.status === 201) c.wronglyAdmitted++
      else {
        c.failed++
        if (c.failures.length < 10) c.failures.push(`${bad ? 'deny-case' : 'allow-case'}: HTTP ${r.status} ${r.message}`)
      }
    }
  }
  const loops = [loop(), loop()]
  return {
    peek: () => ({ ...c }),
    stop: async () => {
      running = false
      await Promise.all(loops)
      return c
    },
  }
}

const missing = !controlPlaneToolsAvailable(true, true) ? 'control-plane tools not built' : !registryAvailable() ? 'docker-registry missing' : realNodesMissing()
if (missing) {
  if (process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1') t.fail(`real nodes unavailable: ${missing}`)
  else t.plan(0, missing)
} else {
  t.setTimeout(60 * 60_000)

  t.test('helm install in service mode on real nodes, and day-2 operations under load', async (t) => {
    const img = await buildImage()
    t.comment(`image ${img.image} ${img.cached ? 'reused from the cache' : 'built'} in ${(img.buildMs / 1000).toFixed(1)} s`)

    assertOwnNetns('add the kubernetes Service address')
    // On the namespace's loopback device (no dummy interface module on these kernels): a local address
    // of the harness namespace, reached by the pods through their node's bridge.
    const addr = await run('ip', ['addr', 'add', `${SVC_IP}/32`, 'dev', 'lo'])
    t.equal(addr.code, 0, `ip addr add ${SVC_IP}/32 dev lo: ${addr.stderr}`)

    const cp = await startControlPlane({
      withControllerManager: true,
      controllers: ['*'],
      withScheduler: true,
      apiserverArgs: ['--enable-aggregator-routing=true', '--bind-address=0.0.0.0'],
    })
    t.teardown(() => cp.stop())
    const apiPort = new URL(cp.server).port

    const registry = await startRegistry()
    t.teardown(() => registry.stop())
    const reg = `${SVC_IP}:${registry.port}`
    const socat = spawn('socat', [`TCP-LISTEN:${registry.port},bind=${SVC_IP},fork,reuseaddr`, `TCP:127.0.0.1:${registry.port}`], { stdio: 'ignore' })
    t.teardown(() => {
      socat.kill('SIGTERM')
    })
    await waitFor('the registry at the Service address', async () => (await fetch(`http://${reg}/v2/`)).status === 200, 30_000)
    const samples = await pushSampleImages(registry.host, { only: ['pause', 'linux'] })
    const pushed = await pushImage(img, registry.host)
    t.comment(`image ${pushed.ref}: ${(pushed.compressedBytes / 1e6).toFixed(1)} MB compressed`)
    // The chart's `helm test` image (tests.image): a curl stand-in built by scripts/build-test-image.sh.
    const curl = await pushImage(await buildTestImage(), registry.host, 'curl', 'test')
    const linuxImage = samples.linux.ref.replace(registry.host, reg)

    // Cluster DNS stand-in (no CoreDNS here): the helm test pod resolves the Service by name.
    const dns = await startClusterDns(DNS_IP)
    t.teardown(() => dns.stop())

    const nodes = await startRealNodes({ cp, registryHost: reg, sandboxImage: samples.pause.ref.replace(registry.host, reg), clusterDNS: DNS_IP, nodes: [{ name: 'node-a' }, { name: 'node-b' }] })
    t.teardown(() => nodes.stop())
    t.comment(`nodes Ready: set-up ${nodes.timings.setupMs} ms`)

    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-test' }, handler: 'spin' }) + '\n---\n' + JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: APPS } }),
    })
    await waitFor(`ServiceAccount default in ${APPS}`, async () => (await cp.kubectl(['get', 'serviceaccount', 'default', '-n', APPS], { allowFailure: true })).code === 0, 60_000)

    const home = mkdtempSync(join(tmpdir(), 'wa-helm-'))
    t.teardown(() => rmSync(home, { recursive: true, force: true }))
    const helmEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data'), KUBECONFIG: cp.kubeconfigPath }
    const helm = (args: string[]) => run(toolPaths().helm, args, { env: helmEnv, timeoutMs: 15 * 60_000 })
    const values = join(home, 'values.yaml')
    // `rollout` is a pod annotation: changing it rolls the Deployment (the rolling-upgrade phase).
    const writeValues = (rollout: string): void => writeFileSync(values, toYaml({
      image: { repository: `${reg}/wasm-admission`, digest: pushed.digest },
      deployment: { podAnnotations: { rollout }, extraEnv: [{ name: 'KUBERNETES_SERVICE_HOST', value: SVC_IP }, { name: 'KUBERNETES_SERVICE_PORT', value: apiPort }] },
      registry: { config: { plainHttp: [reg], allowHosts: [`${SVC_IP}/32`] } },
      tests: { image: { repository: `${reg}/curl`, digest: curl.digest } },
    }))
    writeValues('1')
    const installed = Date.now()
    const inst = await helm(['install', RELEASE, CHART, '-n', NS, '--create-namespace', '-f', values, '--wait', '--timeout', '10m'])
    t.equal(inst.code, 0, `helm install: ${inst.stderr}`)
    t.comment(`helm install --wait: ${((Date.now() - installed) / 1000).toFixed(1)} s`)

    const webhookPods = async (): Promise<Obj[]> => (JSON.parse((await cp.kubectl(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=webhook', '-o', 'json'])).stdout) as { items: Obj[] }).items
    const startToReady = (p: Obj): number => {
      const ready = (p.status.conditions as Obj[]).find((c) => c.type === 'Ready')
      return (Date.parse(ready?.lastTransitionTime) - Date.parse(p.status.startTime)) / 1000
    }
    const pods = await webhookPods()
    t.equal(pods.length, 2, 'two webhook replicas')
    t.same(new Set(pods.map((p) => p.spec.nodeName)), new Set(['node-a', 'node-b']), 'one replica on each real node (preferred anti-affinity)')
    for (const p of pods) {
      t.equal(p.spec.containers[0].securityContext.readOnlyRootFilesystem, true, `${p.metadata.name}: read-only root file system`)
      t.comment(`${p.metadata.name} on ${p.spec.nodeName}: start to Ready ${startToReady(p)} s`)
    }
    const logs = await cp.kubectl(['logs', '-n', NS, pods[0]!.metadata.name], { allowFailure: true })
    // No kubeconfig in the pod: the informers' lists went through the in-cluster connection.
    t.match(logs.stdout, /"kind":"nodes","items":2,.*"msg":"nodes listed"/, 'the webhook listed the two nodes through the in-cluster connection')

    // Admission through the Service: the webhook inspects the image in the registry and denies.
    const denied = await createPod(cp, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'linux-under-spin' }, spec: { runtimeClassName: 'spin-test', containers: [{ name: 'app', image: linuxImage }] } })
    t.equal(denied.status, 403, `a Linux image under the spin RuntimeClass is denied: ${denied.message}`)
    t.match(denied.message, /admission webhook "validate\.wasm-admission\.io" denied the request:.*is a Linux image/)

    let phases = 0
    const summary: string[] = []
    const during = async (what: string, op: () => Promise<void>): Promise<void> => {
      const load = startLoad(cp, linuxImage, String(++phases))
      await op()
      const c = await load.stop()
      summary.push(`${what}: ${c.sent} sent, ${c.failed} failed, ${c.wronglyAdmitted} wrongly admitted`)
      t.comment(`${what}: ${c.sent} admissions sent, ${c.admitted} admitted, ${c.denied} denied, ${c.failed} failed, ${c.wronglyAdmitted} wrongly admitted (machine load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`)
      if (c.failed > 0) {
        // What the webhook pods went through: probe failures, restarts, their warnings.
        const events = await cp.kubectl(['get', 'events', '-n', NS, '--sort-by=.lastTimestamp', '-o', 'custom-columns=TIME:.lastTimestamp,OBJ:.involvedObject.name,REASON:.reason,MSG:.message'], { allowFailure: true })
        t.comment(`events in ${NS}:\n${events.stdout.split('\n').slice(-25).join('\n')}`)
        for (const p of await webhookPods()) {
          t.comment(`${p.metadata.name}: restarts ${(p.status.containerStatuses as Obj[] | undefined)?.[0]?.restartCount}, last state ${JSON.stringify((p.status.containerStatuses as Obj[] | undefined)?.[0]?.lastState ?? {})}`)
          const l = await cp.kubectl(['logs', '-n', NS, p.metadata.name], { allowFailure: true })
          t.comment(l.stdout.split('\n').filter((x) => /"level":(40|50|60)|drift|slow/.test(x)).slice(-10).join('\n'))
        }
      }
      t.ok(c.sent > 0 && c.admitted > 0 && c.denied > 0, `${what}: load ran (${c.sent})`)
      t.equal(c.wronglyAdmitted, 0, `${what}: 0 wrongly admitted`)
      t.equal(c.failed, 0, `${what}: every admission answered (${c.failures.join('; ')})`)
    }
    const twoReady = async (): Promise<void> => {
      await waitFor('two Ready webhook replicas', async () => {
        const ps = await webhookPods()
        return ps.length === 2 && ps.every((p) => !p.metadata.deletionTimestamp && (p.status.conditions as Obj[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True'))
      }, 5 * 60_000, 1000)
    }

    await during('one webhook pod deleted', async () => {
      const victim = pods[0]!.metadata.name as string
      const victimIp = String(pods[0]!.status.podIP)
      // How long the EndpointSlice takes to mark the deleted pod not ready (what the apiserver's
      // endpoint choice reads), against the webhook's --shutdown-delay-seconds (5 s by default).
      const sliceReady = async (): Promise<boolean | undefined> => {
        const slices = JSON.parse((await cp.kubectl(['get', 'endpointslices', '-n', NS, '-l', `kubernetes.io/service-name=${RELEASE}`, '-o', 'json'])).stdout) as { items: Obj[] }
        const ep = slices.items.flatMap((sl) => (sl.endpoints as Obj[] | undefined) ?? []).find((e) => (e.addresses as string[]).includes(victimIp))
        return ep ? ep.conditions?.ready !== false : undefined
      }
      t.equal(await sliceReady(), true, 'the pod is a Ready endpoint before the deletion')
      const deleteStarted = Date.now()
      const deleting = cp.kubectl(['delete', 'pod', '-n', NS, victim, '--wait=true'])
      await waitFor('the deleted pod is no Ready endpoint', async () => (await sliceReady()) !== true, 60_000, 100)
      t.comment(`deleted pod out of the Ready endpoints ${((Date.now() - deleteStarted) / 1000).toFixed(1)} s after kubectl delete started (shutdown delay 5 s)`)
      await deleting
      await twoReady()
      const now = await webhookPods()
      const fresh = now.find((p) => !pods.some((o) => o.metadata.name === p.metadata.name))
      if (fresh) t.comment(`replacement ${fresh.metadata.name} on ${fresh.spec.nodeName}: start to Ready ${startToReady(fresh)} s`)
    })

    await during('helm upgrade rolling both replicas', async () => {
      const before = new Set((await webhookPods()).map((p) => p.metadata.name))
      writeValues('2')
      const up = await helm(['upgrade', RELEASE, CHART, '-n', NS, '-f', values, '--wait', '--timeout', '10m'])
      t.equal(up.code, 0, `helm upgrade: ${up.stderr}`)
      await twoReady()
      const after = await webhookPods()
      t.notOk(after.some((p) => before.has(p.metadata.name)), 'both replicas replaced')
      for (const p of after) t.comment(`rolled ${p.metadata.name} on ${p.spec.nodeName}: start to Ready ${startToReady(p)} s`)
    })

    const secretJson = async (name: string): Promise<Obj> => JSON.parse((await cp.kubectl(['get', 'secret', '-n', NS, name, '-o', 'json'])).stdout) as Obj
    const caBundles = async (): Promise<string[]> => {
      const out: string[] = []
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        const list = JSON.parse((await cp.kubectl(['get', kind, '-o', 'json'])).stdout) as { items: Obj[] }
        for (const w of list.items.filter((i) => String(i.metadata.name).startsWith(RELEASE))) for (const h of w.webhooks as Obj[]) out.push(String(h.clientConfig.caBundle))
      }
      return out
    }
    await during('Helm-generated serving certificate re-issued by helm upgrade', async () => {
      const tlsBefore = await secretJson(`${RELEASE}-tls`)
      const bundlesBefore = await caBundles()
      const podsBefore = (await webhookPods()).map((p) => p.metadata.name as string).sort()
      // The chart re-issues the serving certificate (same CA) on an upgrade within renewBeforeDays of
      // its expiry (charts/wasm-admission/templates/_certs.tpl); a window longer than its lifetime
      // makes this upgrade that one.
      const up = await helm(['upgrade', RELEASE, CHART, '-n', NS, '-f', values, '--set', 'certificates.helm.renewBeforeDays=100000', '--wait', '--timeout', '10m'])
      t.equal(up.code, 0, `helm upgrade: ${up.stderr}`)
      const tlsAfter = await secretJson(`${RELEASE}-tls`)
      t.not(tlsAfter.data['tls.crt'], tlsBefore.data['tls.crt'], 'a new serving certificate')
      t.not(tlsAfter.data['tls.key'], tlsBefore.data['tls.key'], 'a new key')
      t.equal(tlsAfter.data['ca.crt'], tlsBefore.data['ca.crt'], 'from the same CA')
      t.same(await caBundles(), bundlesBefore, 'the webhook configurations keep their caBundle')
      const fp = new X509Certificate(Buffer.from(String(tlsAfter.data['tls.crt']), 'base64')).fingerprint256
      // No roll (no checksum annotation): each pod hot-reloads the key pair once the kubelet has
      // updated the mounted Secret (its next sync of the pod, up to about a minute).
      await waitFor('both webhook pods serving the new certificate', async () => {
        for (const name of podsBefore) {
          const l = await cp.kubectl(['logs', '-n', NS, name], { allowFailure: true })
          if (!l.stdout.split('\n').some((line) => line.includes('"msg":"serving certificate loaded"') && line.includes(fp))) return false
        }
        return true
      }, 5 * 60_000, 2000)
      t.same((await webhookPods()).map((p) => p.metadata.name as string).sort(), podsBefore, 'the pods were not restarted')
      await twoReady()
    })

    await during('node with a webhook replica cordoned and drained (kubectl drain, PDB honoured)', async () => {
      const victim = (await webhookPods())[0]!
      const node = victim.spec.nodeName as string
      const drained = await cp.kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=5m'], { timeoutMs: 6 * 60_000 })
      t.equal(drained.code, 0, `kubectl drain ${node}`)
      t.match(drained.stdout + drained.stderr, new RegExp(`pod/${victim.metadata.name} evicted`), 'the webhook pod was evicted (the PDB allowed it)')
      await twoReady()
      const now = await webhookPods()
      t.notOk(now.some((p) => p.spec.nodeName === node), `no webhook replica left on ${node}`)
      await cp.kubectl(['uncordon', node])
    })

    // helm test: the chart's test pod curls /readyz on the Service's name. Nothing routes ClusterIPs
    // here (no kube-proxy), so the DNS stand-in answers the name with a Ready endpoint's pod IP (the
    // Service's health port is the container's).
    const readyPod = (await webhookPods()).find((p) => (p.status.conditions as Obj[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True'))!
    const fqdn = `${RELEASE}.${NS}.svc.cluster.local`
    dns.setRecords({ [fqdn]: String(readyPod.status.podIP) })
    await waitFor(`${fqdn} resolves`, async () => (await dns.resolve(fqdn).catch((): string[] => [])).includes(String(readyPod.status.podIP)), 30_000, 200)
    const tested = await helm(['test', RELEASE, '-n', NS, '--timeout', '5m'])
    t.equal(tested.code, 0, `helm test${tested.code === 0 ? '' : `: ${tested.stdout}${tested.stderr}`}`)
    t.match(tested.stdout, /TEST SUITE:\s+wasm-admission-test-readyz[\s\S]*Phase:\s+Succeeded/, 'the chart\'s test pod succeeded')

    // helm uninstall: no webhook configuration left, pod creation goes on without the webhook.
    const uninstalling = startLoad(cp, linuxImage, 'uninstall', { webhookGone: true })
    const un = await helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '5m'])
    t.equal(un.code, 0, `helm uninstall: ${un.stderr}`)
    const u = await uninstalling.stop()
    summary.push(`helm uninstall: ${u.sent} sent, ${u.failed} failed (${u.failures.slice(0, 3).join('; ')})`)
    t.comment(`during helm uninstall: ${u.sent} admissions sent, ${u.failed} failed: ${u.failures.join('; ')}`)
    const left = JSON.parse((await cp.kubectl(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '-o', 'json'])).stdout) as { items: Obj[] }
    t.same(left.items.map((i) => i.metadata.name), [], 'no webhook configuration left behind')
    const afterwards = startLoad(cp, linuxImage, 'afterwards', { webhookGone: true })
    await waitFor('pods created after the uninstall', async () => (await afterwards.peek()).admitted >= 20, 5 * 60_000)
    const a = await afterwards.stop()
    summary.push(`after helm uninstall: ${a.sent} sent, ${a.failed} failed`)
    t.equal(a.failed, 0, `after helm uninstall every pod is created (${a.sent}; ${a.failures.join('; ')})`)
    t.comment(`per day-2 operation (admissions): ${summary.join(' | ')}`)
  })
}
