// UPDATE semantics on a real kube-apiserver: a Deployment UPDATE that switches its template to
// `runtimeClassName: runc`, or pins it to a node without the shim, is denied exactly like the CREATE
// of the same template; an UPDATE that changes neither placement nor runtime is not re-judged.
// docs/validation.md. Real parts (test/harness/e2e-env.ts).
import t from 'tap'
import { deploymentObject, startE2EEnv, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'updates'

/** The webhook's denial text, without kubectl's prefix naming the object. */
const denial = (stderr: string): string => stderr.slice(stderr.indexOf('wasm-admission denied')).trim()

t.test('Deployment UPDATEs on a real control plane', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)
  // Every node runs runc (the seed nodes report the '' and runc handlers).
  await env.apply({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'runc' }, handler: 'runc' })

  const spinDeployment = (name: string, spec: K8sObject = {}): K8sObject => {
    const d = deploymentObject(name, s['spin-v2'].ref, 1, { runtimeClassName: 'spin-test' })
    Object.assign(d.spec.template.spec, { containers: [{ name: 'app', image: s['spin-v2'].ref, command: ['/'] }] }, spec)
    return d
  }

  const changes: Array<{ name: string; spec: K8sObject; expect: string }> = [
    { name: 'runtimeClassName switched to runc', spec: { runtimeClassName: 'runc' }, expect: 'needs a spin shim but RuntimeClass "runc" has handler "runc"' },
    { name: 'pinned to a node without the shim', spec: { nodeName: 'node-runc-1' }, expect: '0/6 nodes can run RuntimeClass spin-test (handler spin)' },
  ]
  for (const [i, c] of changes.entries()) {
    await t.test(c.name, async (t) => {
      const name = `upd-${i}`
      const create = await env.apply(spinDeployment(`${name}-new`, c.spec), { namespace: NS, verb: 'create', allowFailure: true })
      t.not(create.code, 0, 'CREATE of the changed template is denied')
      t.match(create.stderr, c.expect)

      await env.apply(spinDeployment(name), { namespace: NS })
      const update = await env.apply(spinDeployment(name, c.spec), { namespace: NS, allowFailure: true })
      t.not(update.code, 0, 'the UPDATE is denied')
      t.match(update.stderr, 'admission webhook "validate.wasm-admission.io" denied the request')
      t.equal(denial(update.stderr), denial(create.stderr), 'with the same message as the CREATE')
      const stored = (await env.get('deployment', name, NS)).spec.template.spec
      t.equal(stored.runtimeClassName, 'spin-test', 'the stored Deployment is unchanged')
      t.notOk(stored.nodeName)

      // A change that decides neither placement nor runtime is not re-judged.
      const relabelled = spinDeployment(name)
      relabelled.spec.template.metadata.annotations = { note: 'restart' }
      t.equal((await env.apply(relabelled, { namespace: NS })).code, 0, 'a template annotation change is admitted')
    })
  }
})
