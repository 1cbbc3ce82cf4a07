// Webhook calls per pod on the real kube-apiserver: 2 for a Wasm pod (mutate + validate), 2 for a
// Linux pod. The mutation adds what the RuntimeClass admission plugin would add, so the plugin's
// re-run after it changes nothing and the IfNeeded webhook is not reinvoked (docs/chart.md).
// Counted at the webhook, from its request log (helpers.ts callsFor).
import t, { type Test } from 'tap'
import { CRUN_OVERHEAD, CRUN_TOLERATION, DEFAULT_TOLERATIONS, podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { callsFor, dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'call-count'

t.test('webhook calls per pod on a real apiserver', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)

  const cases: Array<{ name: string; image: string; expect: (t: Test, p: K8sObject) => void }> = [
    {
      // The crun class has all three: overhead, a nodeSelector and a toleration.
      name: 'crun-wasm',
      image: s['crun-annotated'].ref,
      expect: (t, p) => {
        t.equal(p.spec.runtimeClassName, 'crun')
        t.same(p.spec.nodeSelector, { 'wasmtime-enabled': 'yes' })
        t.same(p.spec.tolerations, [...DEFAULT_TOLERATIONS, CRUN_TOLERATION])
        t.same(p.spec.overhead, CRUN_OVERHEAD)
      },
    },
    {
      name: 'spin-wasm',
      image: s['spin-v2'].ref,
      expect: (t, p) => {
        t.equal(p.spec.runtimeClassName, 'spin-test')
        t.same(p.spec.nodeSelector, { spin: 'yes' })
      },
    },
    {
      name: 'mixed-index-wasm',
      image: s['mixed-index'].ref,
      expect: (t, p) => t.equal(p.spec.containers[0].image, `${s['mixed-index'].repository}@${s['mixed-index'].pinnedDigest}`),
    },
    { name: 'plain-linux', image: s.linux.ref, expect: (t, p) => t.notOk(p.spec.runtimeClassName) },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      await env.apply(podObject(c.name, c.image), { namespace: NS, verb: 'create' })
      c.expect(t, await env.get('pod', c.name, NS))
      // kubectl create returned, so the apiserver has made every call for this pod.
      const calls = callsFor(env, NS, c.name)
      t.same({ mutate: calls.mutate, validate: calls.validate }, { mutate: 1, validate: 1 }, `2 webhook calls (${calls.lines.join(', ')})`)
    })
  }

  // A class with an empty `scheduling: {}`: the plugin still merges the pod's tolerations
  // (setScheduling returns early only when Scheduling is nil), dropping one another covers. Last,
  // because the new class (no nodeSelector: every spin node, named before spin-test) becomes the
  // automatic choice for Spin pods.
  await t.test('a class with an empty scheduling object, a pod with a covered toleration', async (t) => {
    await env.apply({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-any' }, handler: 'spin', scheduling: {} })
    t.teardown(() => env.kubectl(['delete', 'runtimeclass', 'spin-any', '--ignore-not-found']).then(() => undefined))
    const covered = [{ key: 'k', operator: 'Exists' }, { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }]
    const pod = (name: string): K8sObject => {
      const p = podObject(name, s['spin-v2'].ref)
      p.spec.tolerations = covered
      return p
    }
    // The webhook's informer has the class once a dry-run Spin pod comes back with it.
    await waitFor('the webhook to choose spin-any', async () => {
      const r = await env.apply(pod('spin-any-probe'), { namespace: NS, verb: 'create', dryRun: true, allowFailure: true })
      return r.code === 0 && (JSON.parse(r.stdout) as K8sObject).spec.runtimeClassName === 'spin-any'
    }, 60_000)
    await env.apply(pod('spin-any-wasm'), { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'spin-any-wasm', NS)
    t.equal(p.spec.runtimeClassName, 'spin-any')
    t.same(p.spec.tolerations, [covered[0], ...DEFAULT_TOLERATIONS], 'the covered toleration merged away, as the plugin does')
    const calls = callsFor(env, NS, 'spin-any-wasm')
    t.same({ mutate: calls.mutate, validate: calls.validate }, { mutate: 1, validate: 1 }, `2 webhook calls (${calls.lines.join(', ')})`)
  })
})
