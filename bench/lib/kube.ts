// A direct HTTPS client of the real kube-apiserver (admin client certificate from the harness
// kubeconfig) for creating thousands of objects fast, and the realistic objects the bench creates.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { parse as parseYaml } from 'yaml'

export interface KubeAnswer {
  status: number
  body: any
  ms: number
}

export class Kube {
  private readonly agent: Agent
  private readonly base: URL
  constructor(kubeconfigPath: string, server: string, maxSockets = 32) {
    const kc = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as any
    const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8')
    this.agent = new Agent({
      keepAlive: true,
      maxSockets,
      ca: b64(kc.clusters[0].cluster['certificate-authority-data']),
      cert: b64(kc.users[0].user['client-certificate-data']),
      key: b64(kc.users[0].user['client-key-data']),
    })
    this.base = new URL(server)
  }

  req(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeAnswer> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const started = performance.now()
    return new Promise((resolve, reject) => {
      const r = request(
        { host: this.base.hostname, port: this.base.port, method, path, agent: this.agent, headers: { accept: 'application/json', ...(data ? { 'content-type': contentType, 'content-length': data.length } : {}) } },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown = text
            try {
              parsed = JSON.parse(text)
            } catch {
              /* not JSON */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - started })
          })
          res.on('error', reject)
        },
      )
      r.on('error', reject)
      r.end(data)
    })
  }

  async must(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeAnswer> {
    const a = await this.req(method, path, body, contentType)
    if (a.status >= 300 && !(method === 'POST' && a.status === 409)) throw new Error(`${method} ${path}: HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`)
    return a
  }

  close(): void {
    this.agent.destroy()
  }
}

/** Runs fn over items with `concurrency` in flight. */
export async function parallel<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    }),
  )
}

/** Handlers the bench's RuntimeClasses use; node i has the shims of its pool. */
export const HANDLERS = ['spin', 'wasmtime', 'wasmedge', 'crun', 'slight'] as const

/**
 * A realistic Node (EKS-like labels, 40 images, 4 conditions, runtimeHandlers): every 10th node has
 * the Wasm shims and the label spin=yes, every 50th a dedicated=batch:NoSchedule taint.
 */
export function realisticNode(i: number): { node: Record<string, unknown>; status: Record<string, unknown>; taints: unknown[] } {
  const name = `node-${String(i).padStart(5, '0')}`
  const wasm = i % 10 === 0
  const zone = `eu-west-1${'abc'[i % 3]}`
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': 'm6i.2xlarge',
    'topology.kubernetes.io/region': 'eu-west-1',
    'topology.kubernetes.io/zone': zone,
    'eks.amazonaws.com/nodegroup': `ng-${i % 7}`,
    'eks.amazonaws.com/capacityType': 'ON_DEMAND',
    'team.example.com/pool': `pool-${i % 13}`,
  }
  if (wasm) Object.assign(labels, { spin: 'yes', 'wasmtime-enabled': 'yes' })
  const taints = i % 50 === 0 ? [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] : []
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const feat = { recursiveReadOnlyMounts: true, userNamespaces: true }
  return {
    node: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels,
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true', 'alpha.kubernetes.io/provided-node-ip': `10.0.${i >> 8}.${i & 255}` },
      },
      spec: { providerID: `aws:///${zone}/i-${i.toString(16).padStart(17, '0')}`, podCIDR: `10.${100 + (i >> 8)}.${i & 255}.0/24` },
    },
    taints,
    status: {
      capacity: { cpu: '8', 'ephemeral-storage': '104845292Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '32386544Ki', pods: '58' },
      allocatable: { cpu: '7910m', 'ephemeral-storage': '95551679124', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '31369712Ki', pods: '58' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        lastHeartbeatTime: now,
        lastTransitionTime: now,
        reason: type === 'Ready' ? 'KubeletReady' : `KubeletHasNo${type}`,
        message: type === 'Ready' ? 'kubelet is posting ready status' : `kubelet has no ${type}`,
      })),
      addresses: [
        { type: 'InternalIP', address: `10.0.${i >> 8}.${i & 255}` },
        { type: 'Hostname', address: `${name}.eu-west-1.compute.internal` },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: 'ec2abcdef0123456789abcdef0123456',
        systemUUID: 'ec2abcde-f012-3456-789a-bcdef0123456',
        bootID: `boot-${i}-0123-4567-89ab-cdef01234567`,
        kernelVersion: '6.1.112-124.190.amzn2023.x86_64',
        osImage: 'Amazon Linux 2023.6.20241111',
        containerRuntimeVersion: 'containerd://2.0.0',
        kubeletVersion: 'v1.36.3',
        kubeProxyVersion: 'v1.36.3',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: Array.from({ length: 40 }, (_, k) => ({
        names: [`123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app-${k}@sha256:${'0123456789abcdef'.repeat(4)}`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app-${k}:v1.2.${k}`],
        sizeBytes: 123456789 + k,
      })),
      runtimeHandlers: [{ name: '', features: feat }, { name: 'runc', features: feat }, ...(wasm ? HANDLERS.map((h) => ({ name: h, features: feat })) : [])],
    },
  }
}

/**
 * Creates nodes [from, to): POST the Node (the kubelet's way: with status), then replace the taints
 * (TaintNodesByCondition adds not-ready:NoSchedule to every new Node; the node-lifecycle controller
 * that would lift it does not run), then the status through nodes/status.
 */
export async function createNodes(kube: Kube, from: number, to: number, concurrency = 24): Promise<number> {
  const started = performance.now()
  const idx = Array.from({ length: to - from }, (_, k) => from + k)
  await parallel(idx, concurrency, async (i) => {
    const n = realisticNode(i)
    const name = (n.node.metadata as { name: string }).name
    await kube.must('POST', '/api/v1/nodes', n.node)
    await kube.must('PATCH', `/api/v1/nodes/${name}`, { spec: { taints: n.taints.length > 0 ? n.taints : null } }, 'application/merge-patch+json')
    await kube.must('PATCH', `/api/v1/nodes/${name}/status`, { status: n.status }, 'application/merge-patch+json')
  })
  return performance.now() - started
}

/**
 * 50 RuntimeClasses: spin-test (the one Wasm pods get) and 49 others across the handlers, with
 * nodeSelectors and tolerations, as a multi-team cluster might have.
 */
export function runtimeClasses(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [
    { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-test' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } },
  ]
  for (let k = 1; k < 50; k++) {
    const handler = HANDLERS[k % HANDLERS.length]!
    out.push({
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: `rc-${handler}-${k}` },
      handler,
      scheduling: {
        nodeSelector: k % 2 === 0 ? { 'wasmtime-enabled': 'yes' } : { 'topology.kubernetes.io/zone': `eu-west-1${'abc'[k % 3]}` },
        ...(k % 4 === 0 ? { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }] } : {}),
      },
    })
  }
  return out
}
