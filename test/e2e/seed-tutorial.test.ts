// The seed tutorial end to end (issue 6 §2), on real parts: etcd + kube-apiserver +
// kube-controller-manager, a docker-registry with the sample images, the webhook as a child process
// registered by the real chart in url mode (test/harness/e2e-env.ts).
//
// What is checked is what etcd stores: the apiserver runs our mutating webhook, then (reinvocation)
// the in-tree RuntimeClass plugin merges nodeSelector/tolerations/overhead, then our validating webhook.
import t from 'tap'
import { CRUN_OVERHEAD, CRUN_TOLERATION, DEFAULT_TOLERATIONS, deploymentObject, podObject, startE2EEnv, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip, normalizedSpec, waitForPods } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'tutorial'

t.test('the seed tutorial on a real control plane', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)

  t.test('a Deployment of a FROM-scratch Spin image without runtimeClassName', async (t) => {
    const deploy = deploymentObject('spin-hello', s['spin-scratch'].ref, 1)
    await env.apply(deploy, { namespace: NS })

    // The controller-manager's Deployment and ReplicaSet controllers create the pod (user
    // system:serviceaccount:kube-system:replicaset-controller); the admission chain runs on that create.
    const [pod] = await waitForPods(env, NS, 'spin-hello', 1)
    const checkSpinPod = (p: K8sObject): void => {
      t.equal(p.spec.runtimeClassName, 'spin-test', `${p.metadata.name}: runtimeClassName injected by the webhook`)
      t.same(p.spec.nodeSelector, { spin: 'yes' }, `${p.metadata.name}: nodeSelector merged in by the apiserver's RuntimeClass plugin`)
      t.same(p.spec.containers[0].command, ['/'], `${p.metadata.name}: command ["/"] for the Spin image without entrypoint`)
      t.equal(p.spec.containers[0].image, s['spin-scratch'].ref, `${p.metadata.name}: image not pinned (not an index)`)
      t.same(p.spec.tolerations, DEFAULT_TOLERATIONS, `${p.metadata.name}: only the DefaultTolerationSeconds tolerations (spin-test has none)`)
      t.notOk(p.spec.overhead, `${p.metadata.name}: no overhead (spin-test has none)`)
      t.notOk(p.metadata.annotations, `${p.metadata.name}: no annotations`)
      t.equal(p.status.phase, 'Pending', `${p.metadata.name}: Pending (no scheduler, no kubelet)`)
    }
    checkSpinPod(pod!)
    t.equal(pod!.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet', 'created by the ReplicaSet controller')

    // The webhook never mutates workload objects: the stored template is what was applied.
    const stored = await env.get('deployment', 'spin-hello', NS)
    t.notOk(stored.spec.template.spec.runtimeClassName, 'the Deployment template is not mutated')
    t.notOk(stored.spec.template.spec.containers[0].command, 'the Deployment template has no command')

    await env.kubectl(['scale', 'deployment/spin-hello', '--replicas=3', '-n', NS])
    const pods = await waitForPods(env, NS, 'spin-hello', 3)
    t.equal(pods.length, 3, 'scaled to 3 pods')
    for (const p of pods) checkSpinPod(p)
  })

  t.test('a WASI component image gets wasm1', async (t) => {
    await env.apply(podObject('wasi-component', s['cncf-component'].ref), { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'wasi-component', NS)
    t.equal(p.spec.runtimeClassName, 'wasm1')
    t.same(p.spec.nodeSelector, { 'wasmtime-enabled': 'yes' }, 'wasm1 nodeSelector merged')
    t.notOk(p.spec.containers[0].command, 'no command added (only Spin images need one)')
    t.equal(p.spec.containers[0].image, s['cncf-component'].ref)
    t.same(p.spec.tolerations, DEFAULT_TOLERATIONS)
    t.notOk(p.spec.overhead)
    t.notOk(p.metadata.annotations)

    // A Deployment of a WASI image with an entrypoint gets wasm1 too.
    await env.apply(deploymentObject('wasi-demo', s['wasi-scratch'].ref, 2), { namespace: NS })
    for (const pod of await waitForPods(env, NS, 'wasi-demo', 2)) {
      t.equal(pod.spec.runtimeClassName, 'wasm1', `${pod.metadata.name}: wasm1`)
      t.same(pod.spec.nodeSelector, { 'wasmtime-enabled': 'yes' })
      t.notOk(pod.spec.containers[0].command)
    }
  })

  t.test('crun image: RuntimeClass crun, pod annotation, RuntimeClass tolerations and overhead', async (t) => {
    await env.apply(podObject('crun-app', s['crun-annotated'].ref), { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'crun-app', NS)
    t.equal(p.spec.runtimeClassName, 'crun', 'runtimeClassName')
    t.same(p.spec.nodeSelector, { 'wasmtime-enabled': 'yes' }, 'nodeSelector from the RuntimeClass')
    t.same(p.spec.tolerations, [...DEFAULT_TOLERATIONS, CRUN_TOLERATION], 'tolerations: defaults + the RuntimeClass toleration')
    t.same(p.spec.overhead, CRUN_OVERHEAD, 'overhead from the RuntimeClass')
    t.same(p.metadata.annotations, { 'module.wasm.image/variant': 'compat-smart' }, 'crun needs the pod annotation')
    t.equal(p.spec.containers[0].image, s['crun-annotated'].ref, 'image unchanged')
    t.notOk(p.spec.containers[0].command, 'the crun image has an entrypoint')
  })

  t.test('a mixed index (linux/amd64 + wasi/wasm) is pinned to the Wasm digest', async (t) => {
    const mixed = s['mixed-index']
    await env.apply(podObject('mixed', mixed.ref), { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'mixed', NS)
    t.ok(mixed.pinnedDigest, 'the sample has a Wasm entry')
    t.equal(p.spec.containers[0].image, `${mixed.repository}@${mixed.pinnedDigest}`, 'image pinned to the wasi/wasm manifest')
    t.not(mixed.pinnedDigest, mixed.digest, 'not the index digest')
    t.equal(p.spec.runtimeClassName, 'spin-test')
    t.same(p.spec.nodeSelector, { spin: 'yes' })
    t.same(p.spec.containers[0].command, ['/'], 'the Spin entry has no entrypoint')
  })

  t.test('a user-chosen Wasm RuntimeClass is kept, and completed', async (t) => {
    await env.apply(podObject('spin-own-rc', s['spin-v2'].ref, { runtimeClassName: 'spin-test' }), { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'spin-own-rc', NS)
    t.equal(p.spec.runtimeClassName, 'spin-test')
    t.same(p.spec.nodeSelector, { spin: 'yes' })
    t.same(p.spec.containers[0].command, ['/'])
  })

  t.test('a Linux image under a Wasm RuntimeClass is denied', async (t) => {
    const r = await env.apply(podObject('linux-under-wasm', s.linux.ref, { runtimeClassName: 'wasm1' }), { namespace: NS, verb: 'create', allowFailure: true })
    t.not(r.code, 0, 'kubectl fails')
    t.match(r.stderr, 'admission webhook "validate.wasm-admission.io" denied the request: wasm-admission denied this object:')
    t.match(r.stderr, `container "app" (image "${s.linux.ref}") is a Linux image`)
    t.match(r.stderr, 'but RuntimeClass "wasm1" (handler "wasmtime") runs wasi Wasm; fix: remove runtimeClassName or use a Wasm image')
    const get = await env.kubectl(['get', 'pod', 'linux-under-wasm', '-n', NS], { allowFailure: true })
    t.match(get.stderr, /NotFound/, 'nothing stored')
  })

  t.test('an ordinary Linux pod is untouched (no patch)', async (t) => {
    const before = {
      mutated: await env.webhook.requestCount({ endpoint: 'mutate', decision: 'mutated' }),
      allowed: await env.webhook.requestCount({ endpoint: 'mutate', decision: 'allowed' }),
    }
    const sent = podObject('plain-linux', s.linux.ref)
    await env.apply(sent, { namespace: NS, verb: 'create' })
    const p = await env.get('pod', 'plain-linux', NS)
    t.notOk(p.spec.runtimeClassName, 'no runtimeClassName')
    t.notOk(p.spec.nodeSelector, 'no nodeSelector')
    t.notOk(p.spec.overhead, 'no overhead')
    t.notOk(p.metadata.annotations, 'no annotations')
    t.same(p.spec.containers.map((c: K8sObject) => ({ name: c.name, image: c.image, command: c.command })), [{ name: 'app', image: s.linux.ref, command: undefined }], 'containers as sent')
    t.same(p.spec.tolerations, DEFAULT_TOLERATIONS)
    // The same pod in a namespace the webhooks never see (kube-system): identical after all of the
    // apiserver's own defaulting and admission. So the webhook changed nothing.
    const ref = await env.apply(podObject('plain-linux', s.linux.ref), { namespace: 'kube-system', verb: 'create', dryRun: true })
    t.same(normalizedSpec(p), normalizedSpec(JSON.parse(ref.stdout) as K8sObject), 'stored spec equals the spec of an unintercepted pod')
    t.equal(await env.webhook.requestCount({ endpoint: 'mutate', decision: 'mutated' }), before.mutated, 'the mutating webhook returned no patch')
    t.equal(await env.webhook.requestCount({ endpoint: 'mutate', decision: 'allowed' }), before.allowed + 1, 'the mutating webhook was called once and allowed it')
  })

  t.test('kubectl get pods -o wide (what the tutorial shows)', async (t) => {
    const r = await env.kubectl(['get', 'pods', '-n', NS, '-o', 'wide'])
    t.match(r.stdout, /spin-hello-\S+\s+0\/1\s+Pending/, 'Spin pods listed, Pending')
    const rc = await env.kubectl(['get', 'pods', '-n', NS, '-l', 'app=spin-hello', '-o', 'jsonpath={range .items[*]}{.spec.runtimeClassName}{"\\n"}{end}'])
    t.same(rc.stdout.trim().split('\n'), ['spin-test', 'spin-test', 'spin-test'])
  })
})
