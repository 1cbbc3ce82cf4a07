// MutatingWebhookConfiguration and ValidatingWebhookConfiguration: settings, selectors, rules and
// clientConfig for the service, url, cert-manager, Helm-generated and bring-your-own variants.
import { X509Certificate, createPrivateKey } from 'node:crypto'
import t from 'tap'
import { PERMUTATIONS, helmSkip, one, template, type K8sObject } from './helm.js'

const skip = helmSkip()

function hooks(docs: K8sObject[]): { mutating: K8sObject; validating: K8sObject; mwc: K8sObject; vwc: K8sObject } {
  const mwc = one(docs, 'MutatingWebhookConfiguration')
  const vwc = one(docs, 'ValidatingWebhookConfiguration')
  if (mwc.webhooks.length !== 1 || vwc.webhooks.length !== 1) throw new Error('expected one webhook per configuration')
  return { mwc, vwc, mutating: mwc.webhooks[0], validating: vwc.webhooks[0] }
}

const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease']

t.test('defaults: fail-open mutation, fail-closed validation, 5 s, v1, no side effects', { skip }, async (t) => {
  const { docs } = await template({ namespace: 'wasm-system' })
  const { mutating, validating, mwc, vwc } = hooks(docs)
  t.equal(mwc.metadata.name, 'wa-wasm-admission')
  t.equal(vwc.metadata.name, 'wa-wasm-admission')
  t.match(mutating, {
    name: 'mutate.wasm-admission.io',
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    matchPolicy: 'Equivalent',
    failurePolicy: 'Ignore',
    reinvocationPolicy: 'IfNeeded',
    timeoutSeconds: 5,
  })
  t.match(validating, {
    name: 'validate.wasm-admission.io',
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    matchPolicy: 'Equivalent',
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
  })
  t.notOk('reinvocationPolicy' in validating, 'reinvocation is a mutating-only field')

  t.test('namespaceSelector excludes the system namespaces, the release namespace and opted-out namespaces', async (t) => {
    for (const w of [mutating, validating]) {
      t.same(w.namespaceSelector, {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...SYSTEM_NAMESPACES, 'wasm-system'] },
          { key: 'wasm-admission.io/ignore', operator: 'NotIn', values: ['true'] },
        ],
      })
      t.notOk(w.objectSelector, 'no objectSelector by default')
      t.notOk(w.matchConditions, 'no matchConditions by default')
    }
  })

  t.test('rules: pods CREATE for mutation; pods and workloads CREATE+UPDATE for validation', async (t) => {
    t.same(mutating.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }])
    t.same(validating.rules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
      { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], scope: 'Namespaced' },
      { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'], scope: 'Namespaced' },
    ])
    for (const w of [mutating, validating]) {
      for (const r of w.rules) {
        t.notOk((r.resources as string[]).some((x) => x.includes('/')), 'no subresources (pods/status updates never reach the webhook)')
        t.notOk((r.operations as string[]).includes('DELETE'), 'DELETE is never intercepted')
      }
    }
  })

  t.test('clientConfig by service with the Helm-generated CA', async (t) => {
    t.same(mutating.clientConfig.service, { name: 'wa-wasm-admission', namespace: 'wasm-system', path: '/mutate', port: 443 })
    t.same(validating.clientConfig.service, { name: 'wa-wasm-admission', namespace: 'wasm-system', path: '/validate', port: 443 })
    t.notOk(mutating.clientConfig.url)
    const caSecret = one(docs, 'Secret', 'wa-wasm-admission-ca')
    t.equal(mutating.clientConfig.caBundle, caSecret.data['tls.crt'], 'mutating caBundle is the generated CA')
    t.equal(validating.clientConfig.caBundle, caSecret.data['tls.crt'], 'validating caBundle is the same CA')
    t.notOk(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'no cainjector annotation')
    t.notOk(mwc.metadata.ownerReferences, 'no ownerReferences under helm template (no lookup)')
  })
})

t.test('values flow into both webhooks', { skip }, async (t) => {
  const extra = { key: 'team', operator: 'In', values: ['wasm'] }
  const objectSelector = { matchExpressions: [{ key: 'skip-wasm', operator: 'DoesNotExist' }] }
  const matchConditions = [{ name: 'not-node-user', expression: "!request.userInfo.username.startsWith('system:node:')" }]
  const { docs } = await template({
    namespace: 'platform',
    values: {
      webhook: {
        timeoutSeconds: 3,
        excludeNamespaces: ['monitoring', 'kube-system'],
        ignoreLabel: 'example.com/no-wasm',
        namespaceSelectorExpressions: [extra],
        objectSelector,
        matchConditions,
        mutating: { failurePolicy: 'Fail', reinvocationPolicy: 'Never' },
        validating: { failurePolicy: 'Ignore', workloads: false },
      },
    },
  })
  const { mutating, validating } = hooks(docs)
  t.equal(mutating.failurePolicy, 'Fail')
  t.equal(mutating.reinvocationPolicy, 'Never')
  t.equal(validating.failurePolicy, 'Ignore')
  for (const w of [mutating, validating]) {
    t.equal(w.timeoutSeconds, 3)
    t.same(w.namespaceSelector.matchExpressions, [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...SYSTEM_NAMESPACES, 'platform', 'monitoring'] },
      { key: 'example.com/no-wasm', operator: 'NotIn', values: ['true'] },
      extra,
    ])
    t.same(w.objectSelector, objectSelector)
    t.same(w.matchConditions, matchConditions)
  }
  t.equal(validating.rules.length, 1, 'workloads=false validates pods only')
  const args: string[] = one(docs, 'Deployment').spec.template.spec.containers[0].args
  t.ok(args.includes('--webhook-timeout-seconds=3'), 'the app gets the same timeout')
})

t.test('each webhook can be disabled', { skip }, async (t) => {
  const m = await template({ values: { webhook: { validating: { enabled: false } } } })
  t.equal(m.docs.filter((d) => d.kind === 'ValidatingWebhookConfiguration').length, 0)
  t.equal(m.docs.filter((d) => d.kind === 'MutatingWebhookConfiguration').length, 1)
  const v = await template({ values: { webhook: { mutating: { enabled: false } } } })
  t.equal(v.docs.filter((d) => d.kind === 'MutatingWebhookConfiguration').length, 0)
})

t.test('certManager: cainjector annotation instead of a caBundle', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.certManager] })
  const { mutating, validating, mwc, vwc } = hooks(docs)
  for (const c of [mwc, vwc]) t.equal(c.metadata.annotations['cert-manager.io/inject-ca-from'], 'wasm-system/wa-wasm-admission-serving')
  for (const w of [mutating, validating]) t.notOk(w.clientConfig.caBundle, 'caBundle left to cainjector')
  t.ok(docs.some((d) => d.kind === 'Certificate' && d.metadata.name === 'wa-wasm-admission-serving'), 'the annotated Certificate exists')
})

t.test('provided: caBundle from values (PEM is base64-encoded, base64 passes through)', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.provided] })
  const { mutating, validating } = hooks(docs)
  const pem = Buffer.from(mutating.clientConfig.caBundle, 'base64').toString()
  t.match(pem, /^-----BEGIN CERTIFICATE-----\nMIIB/)
  t.equal(validating.clientConfig.caBundle, mutating.clientConfig.caBundle)
  t.equal(one(docs, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName, 'my-webhook-tls')
  t.equal(docs.filter((d) => d.kind === 'Secret').length, 0, 'no Secret rendered: it is yours')

  const b64 = Buffer.from('-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----\n').toString('base64')
  const again = await template({ values: { certificates: { mode: 'provided', caBundle: b64, provided: { secretName: 's' } } } })
  t.equal(hooks(again.docs).mutating.clientConfig.caBundle, b64)
})

t.test('url mode: url + path, no service, caBundle from values', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.urlMode] })
  const { mutating, validating } = hooks(docs)
  t.same(Object.keys(mutating.clientConfig).sort(), ['caBundle', 'url'])
  t.equal(mutating.clientConfig.url, 'https://127.0.0.1:8443/mutate')
  t.equal(validating.clientConfig.url, 'https://127.0.0.1:8443/validate')
  t.ok(mutating.clientConfig.caBundle)

  const slash = await template({ values: { webhook: { url: 'https://webhook.example.com:9443/' }, certificates: { mode: 'certManager' } } })
  t.equal(hooks(slash.docs).mutating.clientConfig.url, 'https://webhook.example.com:9443/mutate', 'trailing slash trimmed')
})

t.test('helm mode: generated CA and serving certificate are consistent', { skip }, async (t) => {
  const { docs } = await template({ namespace: 'wasm-system' })
  const ca = new X509Certificate(Buffer.from(one(docs, 'Secret', 'wa-wasm-admission-ca').data['tls.crt'], 'base64'))
  const tls = one(docs, 'Secret', 'wa-wasm-admission-tls')
  t.equal(tls.type, 'kubernetes.io/tls')
  const leaf = new X509Certificate(Buffer.from(tls.data['tls.crt'], 'base64'))
  t.ok(ca.ca, 'CA certificate is a CA')
  // ECDSA P-256, not Helm's default RSA-2048: a TLS handshake costs the webhook less CPU (docs/benchmarks.md)
  for (const c of [ca, leaf]) t.match(c.publicKey.asymmetricKeyDetails, { namedCurve: 'prime256v1' }, `${c.subject}: ECDSA P-256 key`)
  t.equal(createPrivateKey(Buffer.from(tls.data['tls.key'], 'base64')).asymmetricKeyType, 'ec', 'serving key is EC')
  t.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'serving certificate signed by the CA')
  const days = (c: X509Certificate): number => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000
  t.ok(days(ca) >= 3649, `CA lives ~10 years (${days(ca)} days)`)
  t.ok(days(leaf) >= 729 && days(leaf) <= 731, `serving certificate lives ~2 years (${days(leaf)} days)`)
  for (const name of ['wa-wasm-admission', 'wa-wasm-admission.wasm-system', 'wa-wasm-admission.wasm-system.svc', 'wa-wasm-admission.wasm-system.svc.cluster.local']) {
    t.ok(leaf.checkHost(name), `SAN ${name}`)
  }
  const notAfter = Date.parse(tls.metadata.annotations['wasm-admission.io/not-after'])
  t.ok(Math.abs(notAfter - Date.parse(leaf.validTo)) < 86_400_000, 'not-after annotation matches the certificate')
  t.equal(Buffer.from(tls.data['ca.crt'], 'base64').toString(), ca.toString(), 'ca.crt in the serving Secret')
})

t.test('certManager chain: self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate', { skip }, async (t) => {
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.certManager] })
  const issuers = docs.filter((d) => d.kind === 'Issuer')
  const selfSigned = issuers.find((i) => i.spec.selfSigned)
  const caIssuer = issuers.find((i) => i.spec.ca)
  t.ok(selfSigned && caIssuer)
  const certs = docs.filter((d) => d.kind === 'Certificate')
  const caCert = certs.find((c) => c.spec.isCA) ?? {}
  const serving = certs.find((c) => !c.spec.isCA) ?? {}
  t.equal(caCert.spec.issuerRef.name, selfSigned?.metadata.name)
  t.equal(caIssuer?.spec.ca.secretName, caCert.spec.secretName)
  t.equal(serving.spec.issuerRef.name, caIssuer?.metadata.name)
  t.equal(serving.spec.secretName, 'wa-wasm-admission-tls', 'the Secret the Deployment mounts')
  t.same(serving.spec.dnsNames, ['wa-wasm-admission', 'wa-wasm-admission.wasm-system', 'wa-wasm-admission.wasm-system.svc', 'wa-wasm-admission.wasm-system.svc.cluster.local'])
  t.match(serving.spec, { duration: '8760h', renewBefore: '720h' })

  const external = await template({ values: { certificates: { mode: 'certManager', certManager: { issuerRef: { kind: 'ClusterIssuer', name: 'corp-ca' } } } } })
  t.equal(external.docs.filter((d) => d.kind === 'Issuer').length, 0, 'an external issuer replaces the chart-made chain')
  t.match(one(external.docs, 'Certificate').spec.issuerRef, { kind: 'ClusterIssuer', name: 'corp-ca', group: 'cert-manager.io' })
})
