// The workload objects: restricted security context, probes on the health port, replicas, PDB,
// anti-affinity, volumes, and the url mode (no Deployment at all).
import t from 'tap'
import { parse } from 'yaml'
import { PERMUTATIONS, byKind, helmSkip, one, template } from './helm.js'
import { parseServeOptions, reviewDeadlineMs } from '../../src/config/serve-options.js'

const skip = helmSkip()

t.test('default Deployment', { skip }, async (t) => {
  const { docs, stderr } = await template()
  t.equal(stderr, '', 'no warnings')
  const dep = one(docs, 'Deployment')
  const spec = dep.spec.template.spec
  t.equal(dep.spec.replicas, 2, 'two replicas')
  t.same(dep.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 }, 'rollouts never drop a serving replica')

  t.test('restricted pod security', async (t) => {
    t.match(spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } })
    t.equal(spec.containers.length, 1)
    const c = spec.containers[0]
    t.same(c.securityContext, {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
    t.notOk(spec.hostNetwork, 'no host network')
    t.notOk(spec.hostPID, 'no host PID')
    t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, 'resources set')
  })

  t.test('heap defaults: NODE_OPTIONS from deployment.nodeOptions, within the memory limit', async (t) => {
    const c = spec.containers[0]
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))
    t.match(env.NODE_OPTIONS, /--max-old-space-size=(\d+)/, 'the old space is capped by default')
    const oldSpaceMi = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS)?.[1])
    const mi = (q: string): number => Number(/^(\d+)Mi$/.exec(q)?.[1])
    t.ok(mi(c.resources.limits.memory) > oldSpaceMi + 90, `limit ${c.resources.limits.memory} > old space ${oldSpaceMi}Mi + the ~90 MB baseline`)
    t.ok(mi(c.resources.requests.memory) >= 150, `request ${c.resources.requests.memory} covers the measured peak`)
    const { docs } = await template({ values: { deployment: { nodeOptions: '' } } })
    const env2 = one(docs, 'Deployment').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)
    t.notOk(env2.includes('NODE_OPTIONS'), 'nodeOptions "" renders no NODE_OPTIONS (the image default applies)')
  })

  t.test('malloc defaults: deployment.mallocEnv rendered as env, null renders none', async (t) => {
    const env = Object.fromEntries(spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]))
    t.same(
      Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('MALLOC_'))),
      { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' },
      'two arenas, fixed mmap and trim thresholds',
    )
    const { docs } = await template({ values: { deployment: { mallocEnv: null } } })
    const names = one(docs, 'Deployment').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)
    t.notOk(names.some((n: string) => n.startsWith('MALLOC_')), 'mallocEnv null renders no MALLOC_* (the image default applies)')
    const bad = await template({ values: { deployment: { mallocEnv: { PATH: '/tmp' } } } })
    t.not(bad.code, 0, 'only MALLOC_* names are accepted (the schema refuses others)')
    t.match(bad.stderr, /'PATH' does not match pattern/, 'and says which name')
  })

  t.test('ports, probes and flags', async (t) => {
    const c = spec.containers[0]
    t.same(
      c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
      [
        ['https', 8443],
        ['health', 8080],
      ],
    )
    t.match(c.livenessProbe, { httpGet: { path: '/livez', port: 'health', scheme: 'HTTP' } })
    t.match(c.readinessProbe, { httpGet: { path: '/readyz', port: 'health', scheme: 'HTTP' } })
    t.match(c.startupProbe, { httpGet: { path: '/livez', port: 'health' } })
    t.same(c.args.slice(0, 2), ['dist/src/cli.js', 'serve'], 'args replace the image CMD with the same command')
    t.ok(c.args.includes('--port=8443'))
    t.ok(c.args.includes('--health-port=8080'))
    t.ok(c.args.includes('--tls-dir=/etc/wasm-admission/tls'))
    t.ok(c.args.includes('--policy=/etc/wasm-admission/policy/policy.yaml'))
    t.ok(c.args.includes('--webhook-timeout-seconds=5'), 'webhook timeout passed to the app')
    t.notOk(c.args.includes('--read-pull-secrets'), 'pull-secret reading is opt-in')
  })

  t.test('volumes: TLS Secret and policy ConfigMap, mounted read-only as directories', async (t) => {
    const c = spec.containers[0]
    const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string }) => [m.name, m]))
    t.match(mounts.tls, { mountPath: '/etc/wasm-admission/tls', readOnly: true })
    t.match(mounts.policy, { mountPath: '/etc/wasm-admission/policy', readOnly: true })
    t.notOk(mounts.policy.subPath, 'no subPath: kubelet updates reach the hot reload')
    const vols = Object.fromEntries(spec.volumes.map((v: { name: string }) => [v.name, v]))
    t.equal(vols.tls.secret.secretName, 'wa-wasm-admission-tls')
    t.same(vols.tls.secret.items.map((i: { key: string }) => i.key), ['tls.crt', 'tls.key'], 'only the key pair is mounted')
    t.equal(vols.policy.configMap.name, 'wa-wasm-admission-policy')
    const cm = one(docs, 'ConfigMap', 'wa-wasm-admission-policy')
    t.equal(cm.data['policy.yaml'].trim(), '{}', 'empty policy: the webhook uses its defaults')
  })

  t.test('no checksum annotations: policy and certificates hot-reload', async (t) => {
    const ann = dep.spec.template.metadata.annotations ?? {}
    t.same(Object.keys(ann).filter((k) => k.startsWith('checksum/')), [])
  })

  t.test('availability: anti-affinity and PDB', async (t) => {
    const term = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]
    t.equal(term.podAffinityTerm.topologyKey, 'kubernetes.io/hostname')
    t.same(term.podAffinityTerm.labelSelector.matchLabels, dep.spec.selector.matchLabels)
    t.notOk(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, 'preferred, not required')
    t.notOk(spec.priorityClassName, 'no priority class by default')
    const pdb = one(docs, 'PodDisruptionBudget')
    t.equal(pdb.spec.minAvailable, 1)
    t.equal(pdb.spec.unhealthyPodEvictionPolicy, 'AlwaysAllow')
    t.same(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels)
  })

  t.test('Service and helm test pod', async (t) => {
    const svc = one(docs, 'Service')
    t.same(svc.spec.selector, dep.spec.selector.matchLabels)
    t.same(
      svc.spec.ports.map((p: { name: string; port: number; targetPort: string }) => [p.name, p.port, p.targetPort]),
      [
        ['https', 443, 'https'],
        ['health', 8080, 'health'],
      ],
    )
    const testPod = one(docs, 'Pod')
    t.equal(testPod.metadata.annotations['helm.sh/hook'], 'test')
    t.match(testPod.spec.containers[0].args.at(-1), /^http:\/\/wa-wasm-admission\.wasm-system\.svc:8080\/readyz$/)
    t.not(testPod.spec.containers[0].image, /:latest$/)
    const selected = Object.entries(svc.spec.selector).every(([k, v]) => testPod.metadata.labels[k] === v)
    t.notOk(selected, 'the test pod is not selected by the Service or the PDB')
  })

  t.test('no optional extras by default', async (t) => {
    for (const kind of ['NetworkPolicy', 'ServiceMonitor', 'PrometheusRule', 'Certificate', 'Issuer', 'Job']) {
      t.same(byKind(docs, kind), [], `no ${kind}`)
    }
    t.equal(byKind(docs, 'ConfigMap').length, 1, 'only the policy ConfigMap')
  })
})

t.test('replicas 1 drops the PDB (it would block every drain); priority class and policy are carried', { skip }, async (t) => {
  const { docs } = await template({
    values: {
      deployment: { replicas: 1, priorityClassName: 'system-cluster-critical' },
      policy: { defaultMode: 'warn', shimLabels: [{ key: 'kwasm.sh/kwasm-provisioned' }], families: { spin: { runtimeClass: 'auto', handlers: ['spin'] } } },
    },
  })
  t.same(byKind(docs, 'PodDisruptionBudget'), [])
  const dep = one(docs, 'Deployment')
  t.equal(dep.spec.template.spec.priorityClassName, 'system-cluster-critical')
  t.same(parse(one(docs, 'ConfigMap').data['policy.yaml']), {
    defaultMode: 'warn',
    shimLabels: [{ key: 'kwasm.sh/kwasm-provisioned' }],
    families: { spin: { runtimeClass: 'auto', handlers: ['spin'] } },
  })
})

t.test('helm-certs permutation: registry options, NetworkPolicy', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.helmCerts] })
  const dep = one(docs, 'Deployment')
  const c = dep.spec.template.spec.containers[0]
  t.equal(dep.spec.replicas, 3)
  t.ok(c.args.includes('--read-pull-secrets'))
  t.ok(c.args.includes('--registry-config=/etc/wasm-admission/registry/registry.yaml'))
  t.ok(c.args.includes('--registry-credentials=/etc/wasm-admission/registry-credentials/.dockerconfigjson'))
  const vols = Object.fromEntries(dep.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]))
  t.equal(vols['registry-credentials'].secret.secretName, 'registry-credentials')
  t.equal(vols['registry-config'].configMap.name, 'wa-wasm-admission-registry')
  t.match(one(docs, 'ConfigMap', 'wa-wasm-admission-registry').data['registry.yaml'], /mirror\.example\.com/)
  const np = one(docs, 'NetworkPolicy')
  t.same(np.spec.policyTypes, ['Ingress'], 'egress unrestricted unless rules are given')
  t.same(
    np.spec.ingress.map((r: { ports: Array<{ port: number }> }) => r.ports[0]?.port),
    [8443, 8080],
  )
})

t.test('every webhook.timeoutSeconds the schema allows gives args the app starts with (1 s included)', { skip }, async (t) => {
  for (const timeoutSeconds of [1, 2, 5, 30]) {
    const { docs, code, stderr } = await template({ values: { webhook: { timeoutSeconds } } })
    t.equal(code, 0, stderr)
    const args: string[] = one(docs, 'Deployment').spec.template.spec.containers[0].args
    // The container runs `node <args>`; its serve flags are what the app parses at start.
    const o = parseServeOptions(args.slice(2), {})
    const deadline = reviewDeadlineMs(o)
    t.ok(deadline > 0 && deadline < timeoutSeconds * 1000, `timeoutSeconds ${timeoutSeconds}: starts, review deadline ${deadline} ms`)
  }
})

t.test('url mode renders no workload', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.urlMode] })
  for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'Pod', 'Secret', 'NetworkPolicy', 'ServiceMonitor']) {
    t.same(byKind(docs, kind), [], `no ${kind}`)
  }
  t.same(
    docs.map((d) => d.kind).sort(),
    ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'MutatingWebhookConfiguration', 'Role', 'RoleBinding', 'ServiceAccount', 'ValidatingWebhookConfiguration'],
  )
})

t.test('certManager permutation: ServiceMonitor, PrometheusRule and dashboard', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.certManager] })
  const sm = one(docs, 'ServiceMonitor')
  t.match(sm.spec.endpoints[0], { port: 'health', path: '/metrics', scheme: 'http' })
  t.equal(sm.metadata.labels.release, 'prometheus')
  const rule = one(docs, 'PrometheusRule')
  const alerts = rule.spec.groups[0].rules.map((r: { alert: string }) => r.alert)
  t.same(alerts, ['WasmAdmissionSlow', 'WasmAdmissionHighDenialRate', 'WasmAdmissionStaleCache', 'WasmAdmissionPolicyReloadErrors', 'WasmAdmissionCertificateExpiring', 'WasmAdmissionNoReadyReplica'])
  const exprs = rule.spec.groups[0].rules.map((r: { expr: string }) => r.expr).join('\n')
  for (const metric of [
    'wasm_admission_request_duration_seconds_bucket',
    'wasm_admission_requests_total',
    'wasm_admission_informer_last_sync_timestamp_seconds',
    'wasm_admission_policy_reload_errors_total',
    'wasm_admission_tls_certificate_not_after_timestamp_seconds',
    'wasm_admission_ready',
  ]) {
    t.match(exprs, metric, `alerts use ${metric}`)
  }
  t.match(exprs, '< 1814400', 'certificate expiry threshold: 21 days in seconds')
  t.match(exprs, 'decision=~"denied|error"', 'denials use the decision labels the webhook emits (src/pipeline.ts outcomes)')
  const dash = one(docs, 'ConfigMap', 'wa-wasm-admission-dashboard')
  t.equal(dash.metadata.labels.grafana_dashboard, '1')
  const json = JSON.parse(dash.data['wasm-admission.json'])
  t.equal(json.uid, 'wasm-admission')
  const dashExprs = JSON.stringify(json.panels)
  for (const metric of ['wasm_admission_requests_total', 'wasm_admission_request_duration_seconds_bucket', 'wasm_admission_image_cache_requests_total', 'wasm_admission_registry_requests_total', 'wasm_admission_informer_last_sync_timestamp_seconds', 'wasm_admission_policy_reload_errors_total']) {
    t.match(dashExprs, metric, `dashboard shows ${metric}`)
  }
})
