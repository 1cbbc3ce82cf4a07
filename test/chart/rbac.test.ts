// Least privilege: the ClusterRole grants exactly list/watch on nodes, namespaces and runtimeclasses,
// plus get on secrets and serviceaccounts only when registry.readPullSecrets is on. Nothing else.
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

t.test('default: list/watch nodes, namespaces, runtimeclasses only', { skip }, async (t) => {
  const { docs } = await template()
  const role = one(docs, 'ClusterRole')
  t.same(grants(role), BASE)
  t.same(byKind(docs, 'Role'), [], 'no namespaced Role')
  t.same(byKind(docs, 'RoleBinding'), [], 'no RoleBinding')
  const binding = one(docs, 'ClusterRoleBinding')
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name })
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'wa-wasm-admission', namespace: 'wasm-system' }])
  const sa = one(docs, 'ServiceAccount')
  t.equal(sa.metadata.name, 'wa-wasm-admission')
  t.equal(one(docs, 'Deployment').spec.template.spec.serviceAccountName, 'wa-wasm-admission')
})

t.test('registry.readPullSecrets adds get on secrets and serviceaccounts', { skip }, async (t) => {
  const { docs } = await template({ values: { registry: { readPullSecrets: true } } })
  t.same(grants(one(docs, 'ClusterRole')), [...BASE, ...PULL_SECRETS].sort())
})

t.test('every permutation stays within the listed grants', { skip }, async (t) => {
  for (const [name, file] of Object.entries(PERMUTATIONS)) {
    const { docs, code } = await template({ valuesFiles: [file] })
    t.equal(code, 0)
    const allowed = new Set([...BASE, ...PULL_SECRETS])
    for (const g of grants(one(docs, 'ClusterRole'))) t.ok(allowed.has(g), `${name}: ${g} is listed`)
    t.same(byKind(docs, 'Role'), [], `${name}: no Role`)
  }
})

t.test('rbac.create=false renders no RBAC; an existing ServiceAccount can be named', { skip }, async (t) => {
  const { docs } = await template({ values: { rbac: { create: false }, serviceAccount: { create: false, name: 'mine' } } })
  t.same(byKind(docs, 'ClusterRole'), [])
  t.same(byKind(docs, 'ClusterRoleBinding'), [])
  t.same(byKind(docs, 'ServiceAccount'), [])
  t.equal(one(docs, 'Deployment').spec.template.spec.serviceAccountName, 'mine')
})
