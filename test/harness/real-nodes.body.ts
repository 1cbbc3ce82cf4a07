// The body of real-nodes.test.ts, run inside the harness's network + mount namespace.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { controlPlaneToolsAvailable, startControlPlane } from './control-plane.js'
import { KUBELET_SYSCTLS } from './host-sysctls.js'
import { inInitialNetns } from './own-netns.js'
import { run, waitFor } from './process.js'
import { realNodesMissing, startRealNodes } from './real-nodes.js'
import { registryAvailable, startRegistry } from './registry.js'
import { HELLO_LINUX_LINE } from './runnable-images.js'
import { pushSampleImages } from './sample-images.js'

const missing = !controlPlaneToolsAvailable(true) ? 'control-plane tools not built' : !registryAvailable() ? 'docker-registry missing' : realNodesMissing()
if (missing) {
  if (process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1') t.fail(`real nodes unavailable: ${missing}`)
  else t.plan(0, missing)
} else {
  /** The value setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go, v1.36.3) writes for each. */
  const KUBELET_WANTS: Record<string, string> = {
    'vm/overcommit_memory': '1',
    'vm/panic_on_oom': '0',
    'kernel/panic': '10',
    'kernel/panic_on_oops': '1',
    'kernel/keys/root_maxkeys': '1000000',
    'kernel/keys/root_maxbytes': '25000000',
  }

  t.test('a runc node: Ready, runs a Linux pod, and leaves nothing behind', async (t) => {
    t.notOk(inInitialNetns(), 'the test runs outside the host network namespace')
    const cp = await startControlPlane({ withControllerManager: true, controllers: ['*'] })
    t.teardown(() => cp.stop())
    const registry = await startRegistry()
    t.teardown(() => registry.stop())
    const samples = await pushSampleImages(registry.host, { only: ['pause', 'linux'] })

    const nodes = await startRealNodes({
      cp,
      registryHost: registry.host,
      sandboxImage: samples.pause.ref,
      nodes: [{ name: 'node-runc', labels: { 'example.com/kind': 'runc' } }],
    })
    let stopped = false
    t.teardown(() => (stopped ? undefined : nodes.stop()))
    t.comment(`set-up ${nodes.timings.setupMs} ms, node Ready ${nodes.timings.readyMs} ms after the kubelet started`)

    const node = JSON.parse((await cp.kubectl(['get', 'node', 'node-runc', '-o', 'json'])).stdout)
    t.equal(node.metadata.labels['example.com/kind'], 'runc', 'registered with its labels')
    t.same(node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP')?.address, nodes.node('node-runc').ip, 'InternalIP is the bridge address')
    t.equal(Object.keys(nodes.sysctlsBefore).length, KUBELET_SYSCTLS.length, 'every kubelet sysctl recorded')
    t.same(nodes.sysctls.read(), KUBELET_WANTS, 'the kubelet set its kernel tunables (recorded before, restored at stop)')

    // sysfs shows the host's namespace here: ask `ip` in the harness's own.
    const bridgeMac = async (): Promise<string> =>
      (JSON.parse((await run('/usr/sbin/ip', ['-j', 'link', 'show', 'dev', nodes.node('node-runc').bridge])).stdout) as Array<{ address: string }>)[0]!.address
    const macBefore = await bridgeMac()

    // No scheduler needed: nodeName binds the pod. The ServiceAccount plugin wants `default` to exist.
    await waitFor('ServiceAccount default', async () => (await cp.kubectl(['get', 'serviceaccount', 'default'], { allowFailure: true })).code === 0)
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello-linux', namespace: 'default' }, spec: { nodeName: 'node-runc', automountServiceAccountToken: false, containers: [{ name: 'app', image: samples.linux.ref }] } }),
    })
    const pod = await waitFor('hello-linux Running', async () => {
      const p = JSON.parse((await cp.kubectl(['get', 'pod', 'hello-linux', '-o', 'json'])).stdout)
      return p.status.phase === 'Running' ? p : undefined
    }, 120_000)
    t.match(pod.status.podIP, /^10\.244\.10\./, 'pod IP from the node subnet (CNI bridge + host-local)')
    // A bridge with no address of its own takes its lowest port's MAC: a pod's veth joining (or leaving)
    // would change the gateway MAC under the node's other pods (real-nodes.ts, where the bridge is made).
    t.equal(await bridgeMac(), macBefore, 'the bridge (pod gateway) keeps its MAC when a pod veth joins it')
    const logs = await waitFor('the pod log line', async () => {
      const r = await cp.kubectl(['logs', 'hello-linux'], { allowFailure: true })
      return r.stdout.includes(HELLO_LINUX_LINE) ? r.stdout : undefined
    }, 30_000)
    t.match(logs, HELLO_LINUX_LINE, 'kubectl logs through the kubelet (apiserver -> kubelet client cert)')
    const tasks = await nodes.node('node-runc').ctr(['task', 'ls'])
    t.match(tasks.stdout, /RUNNING/, 'ctr task ls on the node socket lists running tasks')
    const mem = nodes.memory()['node-runc']!
    t.ok(mem.kubelet > 0 && mem.containerd > 0, 'memory of kubelet and containerd readable')
    t.comment(`memory: kubelet ${Math.round(mem.kubelet / 1024)} MiB, containerd ${Math.round(mem.containerd / 1024)} MiB, runc shims ${Math.round(mem.shims / 1024)} MiB`)

    const dir = nodes.dir
    const cgroupRoot = `wasm-admission-${dir.slice(dir.lastIndexOf('-') + 1)}-node-runc`
    await nodes.stop()
    stopped = true
    t.notOk(existsSync(dir), 'the nodes directory is removed')
    t.same(readdirSync('/sys/fs/cgroup/memory').filter((d) => d === cgroupRoot), [], 'the node cgroup root is removed')
    const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(join('/proc', p, 'cmdline'), 'utf8').includes(dir)
      } catch {
        return false
      }
    })
    t.same(left, [], 'no process of the node is left')
    const holders = nodes.sysctls.state()
    if (holders === undefined) t.same(nodes.sysctls.read(), nodes.sysctlsBefore, 'the kernel settings are back to what they were before the kubelet')
    else t.notOk(holders.holders.includes(process.pid), 'another real-node run still holds the kernel settings; this one left the holder list')
  })
}
