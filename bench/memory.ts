// Memory / sync-time bench of InformerClusterSource with N realistic nodes (not a tap test).
//   source scripts/lib/node.sh && node --expose-gc --import=tsx test/facts/cluster/bench-memory.ts [N]
// The fake apiserver runs in a child process so its copies of the full objects do not count.
import { fork } from 'node:child_process'
import { Registry } from 'prom-client'
import { FakeApiserver } from './fake-apiserver.js'
import { pod, testPolicy } from './helpers.js'

function realisticNode(i: number): Record<string, unknown> {
  const name = `node-${String(i).padStart(5, '0')}`
  const wasm = i % 10 === 0
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': 'm6i.2xlarge',
    'topology.kubernetes.io/region': 'eu-west-1',
    'topology.kubernetes.io/zone': `eu-west-1${'abc'[i % 3]}`,
    'eks.amazonaws.com/nodegroup': `ng-${i % 7}`,
    'eks.amazonaws.com/capacityType': 'ON_DEMAND',
    'k8s.io/cloud-provider-aws': '0123456789abcdef0123456789abcdef',
    'failure-domain.beta.kubernetes.io/zone': `eu-west-1${'abc'[i % 3]}`,
    'team.example.com/pool': `pool-${i % 13}`,
  }
  if (wasm) labels.spin = 'yes'
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `uid-${i}-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee`,
      resourceVersion: String(1000 + i),
      creationTimestamp: '2026-11-01T00:00:00Z',
      labels,
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'alpha.kubernetes.io/provided-node-ip': `10.0.${i >> 8}.${i & 255}`,
      },
      managedFields: Array.from({ length: 4 }, (_, k) => ({ manager: `m${k}`, operation: 'Update', apiVersion: 'v1', time: '2026-11-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {}, 'f:b': {} } }, 'f:status': { 'f:conditions': {} } } })),
    },
    spec: { providerID: `aws:///eu-west-1a/i-${i.toString(16).padStart(17, '0')}`, podCIDR: '10.244.0.0/24', ...(i % 50 === 0 ? { taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] } : {}) },
    status: {
      capacity: { cpu: '8', 'ephemeral-storage': '104845292Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '32386544Ki', pods: '58' },
      allocatable: { cpu: '7910m', 'ephemeral-storage': '95551679124', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '31369712Ki', pods: '58' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        lastHeartbeatTime: '2026-11-24T00:00:00Z',
        lastTransitionTime: '2026-11-01T00:00:00Z',
        reason: type === 'Ready' ? 'KubeletReady' : `KubeletHasNo${type}`,
        message: 'kubelet is posting ready status. AppArmor enabled',
      })),
      addresses: [
        { type: 'InternalIP', address: `10.0.${i >> 8}.${i & 255}` },
        { type: 'Hostname', address: `${name}.eu-west-1.compute.internal` },
        { type: 'InternalDNS', address: `${name}.eu-west-1.compute.internal` },
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
      runtimeHandlers: [{ name: '', features: { recursiveReadOnlyMounts: true, userNamespaces: true } }, { name: 'runc', features: { recursiveReadOnlyMounts: true, userNamespaces: true } }, ...(wasm ? [{ name: 'spin', features: { recursiveReadOnlyMounts: true, userNamespaces: true } }] : [])],
    },
  }
}

if (process.argv[2] === 'server') {
  const n = Number(process.argv[3])
  const fake = new FakeApiserver()
  fake.resource('/api/v1/nodes', Array.from({ length: n }, (_, i) => realisticNode(i)))
  fake.resource('/apis/node.k8s.io/v1/runtimeclasses', [
    { metadata: { name: 'spin-test' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } },
    { metadata: { name: 'runc-all' }, handler: 'runc' },
  ])
  fake.resource('/api/v1/namespaces', Array.from({ length: 200 }, (_, i) => ({ metadata: { name: `ns-${i}`, labels: { 'kubernetes.io/metadata.name': `ns-${i}` } } })))
  await fake.start()
  process.send!({ port: fake.port, bytesPerNode: JSON.stringify(realisticNode(1)).length })
} else {
  const n = Number(process.argv[2] ?? 5000)
  const child = fork(new URL(import.meta.url).pathname, ['server', String(n)], { execArgv: ['--import=tsx'] })
  const { port, bytesPerNode } = await new Promise<{ port: number; bytesPerNode: number }>((r) => child.once('message', (m) => r(m as { port: number; bytesPerNode: number })))
  const { InformerClusterSource } = await import('../../../src/facts/cluster/informers.js')
  const fake = new FakeApiserver()
  fake.port = port
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1)
  await import('../../../src/facts/cluster/informers.js')
  gc?.()
  const before = process.memoryUsage()
  const src = new InformerClusterSource({ kubeConfig: fake.kubeConfig(), policy: () => testPolicy(), metrics: new Registry(), startWaitMs: 120_000, ...(process.env.PAGE_SIZE ? { pageSize: Number(process.env.PAGE_SIZE) } : {}) })
  const t0 = performance.now()
  await src.start()
  const syncMs = performance.now() - t0
  gc?.()
  const after = process.memoryUsage()
  await new Promise((r) => setTimeout(r, 5000))
  gc?.()
  const settled = process.memoryUsage()
  const s = src.snapshot()
  const time = (f: () => unknown, reps = 200) => {
    const t = performance.now()
    for (let i = 0; i < reps; i++) f()
    return ((performance.now() - t) / reps).toFixed(3)
  }
  const p = pod({ nodeSelector: { 'topology.kubernetes.io/zone': 'eu-west-1a' } })
  console.log(
    JSON.stringify(
      {
        nodes: s.nodeCount(),
        fullNodeJsonBytes: bytesPerNode,
        syncMs: Math.round(syncMs),
        rssBeforeMB: mb(before.rss),
        rssAfterMB: mb(after.rss),
        rssSettled5sMB: mb(settled.rss),
        heapUsedBeforeMB: mb(before.heapUsed),
        heapUsedAfterMB: mb(after.heapUsed),
        heapTotalAfterMB: mb(after.heapTotal),
        externalAfterMB: mb(after.external),
        eligibilityMsSpin10pct: time(() => s.eligibility('spin-test', p)),
        eligibilityMsAllNodesCandidates: time(() => s.eligibility('runc-all', p), 50),
        spinMessage: s.eligibility('spin-test', p).message,
      },
      null,
      2,
    ),
  )
  await src.stop()
  child.kill()
}
