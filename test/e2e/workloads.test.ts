// Workload controllers end to end: the controller-manager's Job, StatefulSet and DaemonSet
// controllers create the pods, the webhook mutates them; templates of CronJobs and Deployment image
// updates are judged at apply time. Real parts (test/harness/e2e-env.ts).
import t from 'tap'
import { deploymentObject, podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'workloads'

const template = (app: string, image: string, extra: K8sObject = {}): K8sObject => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'app', image }], ...extra },
})

t.test('workload controllers on a real control plane', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)

  t.test('Job: the job controller creates a mutated pod', async (t) => {
    await env.apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'spin-job' }, spec: { template: template('spin-job', s['spin-v2'].ref, { restartPolicy: 'Never' }) } }, { namespace: NS })
    const p = await waitFor('the Job pod', async () => (await env.list('pods', NS, 'batch.kubernetes.io/job-name=spin-job'))[0])
    t.equal(p.spec.runtimeClassName, 'spin-test')
    t.same(p.spec.nodeSelector, { spin: 'yes' })
    t.same(p.spec.containers[0].command, ['/'])
  })

  t.test('StatefulSet of a mixed index: pods pinned to the Wasm digest', async (t) => {
    const mixed = s['mixed-index']
    await env.apply({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'mixed' }, spec: { serviceName: 'mixed', replicas: 1, selector: { matchLabels: { app: 'mixed' } }, template: template('mixed', mixed.ref) } }, { namespace: NS })
    const p = await waitFor('the StatefulSet pod', async () => (await env.list('pods', NS, 'app=mixed'))[0])
    t.equal(p.metadata.name, 'mixed-0')
    t.equal(p.spec.containers[0].image, `${mixed.repository}@${mixed.pinnedDigest}`)
    t.equal(p.spec.runtimeClassName, 'spin-test')
    const sts = await env.get('statefulset', 'mixed', NS)
    t.equal(sts.spec.template.spec.containers[0].image, mixed.ref, 'the template keeps the tag')
  })

  t.test('CronJob of an image no node can run is refused at apply time', async (t) => {
    const r = await env.apply({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'slight-cron' }, spec: { schedule: '0 0 * * *', jobTemplate: { spec: { template: template('slight-cron', s['slight-scratch'].ref, { restartPolicy: 'Never' }) } } } }, { namespace: NS, allowFailure: true })
    t.not(r.code, 0)
    t.match(r.stderr, '0/6 nodes can run RuntimeClass slight-nowhere (handler slight): 6 lack the slight shim')
  })

  t.test('Deployment image update to an image no node can run is refused', async (t) => {
    await env.apply(deploymentObject('upd', s.linux.ref), { namespace: NS })
    const r = await env.kubectl(['set', 'image', 'deployment/upd', `app=${s['slight-scratch'].ref}`, '-n', NS], { allowFailure: true })
    t.not(r.code, 0)
    t.match(r.stderr, 'admission webhook "validate.wasm-admission.io" denied the request')
    t.match(r.stderr, '0/6 nodes can run RuntimeClass slight-nowhere')
    t.equal((await env.get('deployment', 'upd', NS)).spec.template.spec.containers[0].image, s.linux.ref, 'the stored Deployment is unchanged')
    // A change that leaves images alone (scale) is not re-judged.
    await env.kubectl(['scale', 'deployment/upd', '--replicas=2', '-n', NS])
  })

  t.test('DaemonSet of a Spin image restricted to the Spin nodes: one mutated pod per Spin node', async (t) => {
    await env.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'spin-ds' }, spec: { selector: { matchLabels: { app: 'spin-ds' } }, template: template('spin-ds', s['spin-v2'].ref, { nodeSelector: { spin: 'yes' } }) } }, { namespace: NS })
    const pods = await waitFor('2 DaemonSet pods', async () => {
      const ps = await env.list('pods', NS, 'app=spin-ds')
      return ps.length === 2 ? ps : undefined
    })
    const targets = pods.map((p) => p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0] as string).sort()
    t.same(targets, ['node-spin-1', 'node-spin-2'])
    for (const p of pods) t.equal(p.spec.runtimeClassName, 'spin-test')
  })

  // The DaemonSet controller places a pod on every targeted node whatever the RuntimeClass says, so a
  // template that targets nodes without the shim is refused at apply time, with the fix.
  t.test('DaemonSet of a Spin image without nodeSelector is refused at apply time', async (t) => {
    const r = await env.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'spin-ds-everywhere' }, spec: { selector: { matchLabels: { app: 'spin-ds-everywhere' } }, template: template('spin-ds-everywhere', s['spin-v2'].ref) } }, { namespace: NS, allowFailure: true })
    t.not(r.code, 0, 'refused at apply time')
    t.match(r.stderr, /this DaemonSet targets 6 nodes, 4 of which cannot run RuntimeClass spin-test \(handler spin\).*fix: add nodeSelector spin=yes to the pod template/)
  })

  // spec.nodeName bypasses the scheduler: the named node itself must be able to run the class.
  t.test('a Spin pod with spec.nodeName of a runc-only node is denied', async (t) => {
    const pod = podObject('bound-to-runc', s['spin-v2'].ref)
    pod.spec.nodeName = 'node-runc-1'
    const r = await env.apply(pod, { namespace: NS, verb: 'create', allowFailure: true })
    t.not(r.code, 0, 'denied')
    t.match(r.stderr, '0/6 nodes can run RuntimeClass spin-test (handler spin)')
    t.match(r.stderr, "not the pod's spec.nodeName node-runc-1")
  })
})
