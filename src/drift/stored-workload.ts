/**
 * The workloads the drift controller watches, reduced to what the decision reads: the pod template's
 * containers (name, image, command), init containers, runtimeClassName, nodeSelector, affinity,
 * tolerations, nodeName, imagePullSecrets, serviceAccountName and its annotations. Everything else of
 * the object (status, other spec fields, managedFields) is dropped as soon as it is summarised.
 *
 * Which objects are watched (docs/drift.md): Deployments, StatefulSets, DaemonSets, CronJobs; Jobs not
 * created by a CronJob; ReplicaSets not created by a Deployment; Pods not created by a ReplicaSet,
 * StatefulSet, DaemonSet or Job. The objects skipped are judged through the template of the one that
 * owns them, which is itself watched. A Pod of any other controller (a ReplicationController, an
 * operator's custom resource) is judged as itself: its owner's template is not read here, and
 * skipping it would leave it unjudged.
 */
import type { GroupVersionKind } from '../domain/kube.js'
import { podTemplateOf, type PodTemplate } from '../domain/workload.js'

/** One kind the controller lists and watches: its API path and the group/version/kind admission uses. */
export interface WorkloadKind {
  gvk: GroupVersionKind
  /** Collection path of the cluster-wide list/watch. */
  path: string
  /** The resource name (RBAC, docs). */
  resource: string
  /** Owners (`group/Kind`, core group empty) whose controller ownerReference makes an object of this kind
   * skipped: they are watched, and their template judges it. */
  skipWhenOwnedBy?: readonly string[]
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  { gvk: { group: 'apps', version: 'v1', kind: 'Deployment' }, path: '/apis/apps/v1/deployments', resource: 'deployments' },
  { gvk: { group: 'apps', version: 'v1', kind: 'StatefulSet' }, path: '/apis/apps/v1/statefulsets', resource: 'statefulsets' },
  { gvk: { group: 'apps', version: 'v1', kind: 'DaemonSet' }, path: '/apis/apps/v1/daemonsets', resource: 'daemonsets' },
  { gvk: { group: 'apps', version: 'v1', kind: 'ReplicaSet' }, path: '/apis/apps/v1/replicasets', resource: 'replicasets', skipWhenOwnedBy: ['apps/Deployment'] },
  { gvk: { group: 'batch', version: 'v1', kind: 'Job' }, path: '/apis/batch/v1/jobs', resource: 'jobs', skipWhenOwnedBy: ['batch/CronJob'] },
  { gvk: { group: 'batch', version: 'v1', kind: 'CronJob' }, path: '/apis/batch/v1/cronjobs', resource: 'cronjobs' },
  { gvk: { group: '', version: 'v1', kind: 'Pod' }, path: '/api/v1/pods', resource: 'pods', skipWhenOwnedBy: ['apps/ReplicaSet', 'apps/StatefulSet', 'apps/DaemonSet', 'batch/Job'] },
]

/** A workload as kept in memory: identity plus the trimmed pod template. */
export interface StoredWorkload {
  /** `kind/namespace/name`, unique across kinds. */
  key: string
  kind: GroupVersionKind
  namespace: string
  name: string
  uid: string
  template: PodTemplate
}

export function workloadKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`
}

type Rec = Record<string, unknown>
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** `group/Kind` of an ownerReference (apiVersion `apps/v1` -> `apps`, `v1` -> the core group ''). */
function ownerGroupKind(r: Rec): string {
  const apiVersion = str(r['apiVersion'])
  const slash = apiVersion.indexOf('/')
  return `${slash === -1 ? '' : apiVersion.slice(0, slash)}/${str(r['kind'])}`
}

/** Whether an object is created and kept by a controller this kind's rule names (then its owner is judged instead). */
export function ownedAway(kind: WorkloadKind, metadata: Rec): boolean {
  const owners = kind.skipWhenOwnedBy
  if (!owners) return false
  const refs = Array.isArray(metadata['ownerReferences']) ? (metadata['ownerReferences'] as unknown[]) : []
  return refs.some((r) => isRec(r) && r['controller'] === true && owners.includes(ownerGroupKind(r)))
}

function trimContainers(v: unknown): Rec[] | undefined {
  if (!Array.isArray(v)) return undefined
  return v.filter(isRec).map((c) => {
    const out: Rec = { name: str(c['name']), image: str(c['image']) }
    if (Array.isArray(c['command']) && c['command'].length > 0) out['command'] = c['command']
    return out
  })
}

const SPEC_FIELDS = ['runtimeClassName', 'nodeSelector', 'affinity', 'tolerations', 'nodeName', 'imagePullSecrets', 'serviceAccountName'] as const

/** The trimmed StoredWorkload of an object of `kind`, or undefined when it has no name/template or is judged through its owner. */
export function summarizeWorkload(kind: WorkloadKind, obj: unknown): StoredWorkload | undefined {
  if (!isRec(obj) || !isRec(obj['metadata'])) return undefined
  const metadata = obj['metadata']
  const name = str(metadata['name'])
  const namespace = str(metadata['namespace'])
  if (!name || ownedAway(kind, metadata)) return undefined
  const full = podTemplateOf(kind.gvk, obj)
  if (!full) return undefined
  const spec: Rec = {}
  for (const list of ['initContainers', 'containers'] as const) {
    const cs = trimContainers(full.spec[list])
    if (cs) spec[list] = cs
  }
  for (const f of SPEC_FIELDS) if (full.spec[f] !== undefined) spec[f] = full.spec[f]
  const tmeta: Rec = {}
  if (isRec(full.metadata['annotations'])) tmeta['annotations'] = full.metadata['annotations']
  return {
    key: workloadKey(kind.gvk.kind, namespace, name),
    kind: kind.gvk,
    namespace,
    name,
    uid: str(metadata['uid']),
    template: { spec, metadata: tmeta, specPath: full.specPath, metadataPath: full.metadataPath },
  }
}
