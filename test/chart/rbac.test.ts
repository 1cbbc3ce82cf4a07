// Least privilege: the ClusterRole grants exactly list/watch on nodes, namespaces and runtimeclasses,
// plus get on secrets and serviceaccounts only when registry.readPullSecrets is on, plus what the drift
// controller reads and writes while drift.enabled (on by default; docs/drift.md). Nothing else.
import t from 'tap'
import { PERMUTATIONS, byKind, helmSkip, one, template, type K8sObject } from './helm.js'

const skip = helmSkip()

/** Flattens RBAC rules into sorted "group/resource:verb" strings. */
function grants(role: K8sObject): string[] {
  const out: string[] = []
  for (const r of role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }>) {
    if (r.resourceNames || r.nonResourceURLs) out.push(`unexpected: ${JSON.stringify(r)}`)
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.push(`${g || 'core'}/${res}:${v}`)
  }
  return out.sort()
}

const BASE = ['core/namespaces:list', 'core/namespaces:watch', 'core/nodes:list', 'core/nodes:watch', 'node.k8s.io/runtimeclasses:list', 'node.k8s.io/runtimeclasses:watch']
const PULL_SECRETS = ['core/secrets:get', 'core/serviceaccounts:get']
const WORKLOADS = [
  ...['core/pods', 'apps/deployments', 'apps/statefulsets', 'apps/daemonsets', 'apps/replicasets', 'batch/jobs', 'batch/cronjobs'].flatMap((r) => [`${r}:list`, `${r}:watch`]),
]
const REPORTS = ['wgpolicyk8s.io/policyreports:create', 'wgpolicyk8s.io/policyreports:delete', 'wgpolicyk8s.io/policyreports:list', 'wgpolicyk8s.io/policyreports:patch']
const EVENTS = ['events.k8s.io/events:create']
const DRIFT = [...WORKLOADS, ...REPORTS, ...EVENTS]

t.test('drift off: list/watch nodes, namespaces, runtimeclasses only', { skip }, async (t) => {
  const { docs } = await template({ values: { drift: { enabled: false } } })
  t.same(grants(one(docs, 'ClusterRole')), BASE)
  t.same(byKind(docs, 'Role'), [], 'no namespaced Role')
  t.same(byKind(docs, 'RoleBinding'), [], 'no RoleBinding')
  t.notOk((one(docs, 'Deployment').spec.template.spec.containers[0].args as string[]).includes('--drift'))
})

t.test('default: the webhook grants plus the drift controller grants, and a Lease Role in the release namespace', { skip }, async (t) => {
  const { docs } = await template()
  const role = one(docs, 'ClusterRole')
  t.same(grants(role), [...BASE, ...DRIFT].sort())
  const lease = one(docs, 'Role')
  t.equal(lease.metadata.namespace, 'wasm-system')
  t.same(grants(lease), ['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update'])
  const lb = one(docs, 'RoleBinding')
  t.same(lb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: lease.metadata.name })
  t.same(lb.subjects, [{ kind: 'ServiceAccount', name: 'wa-wasm-admission', namespace: 'wasm-system' }])
  const args = one(docs, 'Deployment').spec.template.spec.containers[0].args as string[]
  for (const a of ['--drift', '--drift-reports=true', '--drift-events=true', '--drift-namespace=wasm-system', '--drift-lease-name=wa-wasm-admission-drift', '--drift-exclude-namespaces=kube-system,kube-public,kube-node-lease']) t.ok(args.includes(a), a)
  const binding = one(docs, 'ClusterRoleBinding')
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name })
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'wa-wasm-admission', namespace: 'wasm-system' }])
  const sa = one(docs, 'ServiceAccount')
  t.equal(sa.metadata.name, 'wa-wasm-admission')
  t.equal(one(docs, 'Deployment').spec.template.spec.serviceAccountName, 'wa-wasm-admission')
})

t.test('registry.readPullSecrets adds get on secrets and serviceaccounts', { skip }, async (t) => {
  const { docs } = await template({ values: { registry: { readPullSecrets: true } } })
  t.same(grants(one(docs, 'ClusterRole')), [...BASE, ...DRIFT, ...PULL_SECRETS].sort())
})

t.test('drift.reports and drift.events off drop their grants; excluded namespaces reach the controller', { skip }, async (t) => {
  const { docs } = await template({ values: { drift: { reports: false, events: false }, webhook: { excludeNamespaces: ['legacy'] } } })
  t.same(grants(one(docs, 'ClusterRole')), [...BASE, ...WORKLOADS].sort())
  const args = one(docs, 'Deployment').spec.template.spec.containers[0].args as string[]
  t.ok(args.includes('--drift-reports=false'))
  t.ok(args.includes('--drift-events=false'))
  t.ok(args.includes('--drift-exclude-namespaces=kube-system,kube-public,kube-node-lease,legacy'))
})

t.test('every permutation stays within the listed grants', { skip }, async (t) => {
  for (const [name, file] of Object.entries(PERMUTATIONS)) {
    const { docs, code } = await template({ valuesFiles: [file] })
    t.equal(code, 0)
    const allowed = new Set([...BASE, ...PULL_SECRETS, ...DRIFT])
    for (const g of grants(one(docs, 'ClusterRole'))) t.ok(allowed.has(g), `${name}: ${g} is listed`)
    for (const role of byKind(docs, 'Role')) t.same(grants(role), ['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update'], `${name}: only the Lease Role`)
  }
})

t.test('rbac.create=false renders no RBAC; an existing ServiceAccount can be named', { skip }, async (t) => {
  const { docs } = await template({ values: { rbac: { create: false }, serviceAccount: { create: false, name: 'mine' } } })
  t.same(byKind(docs, 'ClusterRole'), [])
  t.same(byKind(docs, 'ClusterRoleBinding'), [])
  t.same(byKind(docs, 'Role'), [])
  t.same(byKind(docs, 'ServiceAccount'), [])
  t.equal(one(docs, 'Deployment').spec.template.spec.serviceAccountName, 'mine')
})
