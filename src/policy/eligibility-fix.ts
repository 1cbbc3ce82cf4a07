/**
 * The fix part of a "no eligible node" denial: one remedy per failure reason of the eligibility
 * (reason codes: src/facts/cluster/eligibility.ts REASON_CODES), each naming the pod-spec field or the
 * cluster object the user must change. Pure.
 */
import type { Eligibility, RuntimeClassInfo } from '../domain/facts.js'

/** Remedies in the order of the reasons, joined with ", or". */
export function fixForEligibility(e: Pick<Eligibility, 'reasons'>, rc: Pick<RuntimeClassInfo, 'handler'>): string {
  const fixes: string[] = []
  for (const r of e.reasons) {
    switch (r.code) {
      case 'noShim':
        fixes.push(`provision the ${JSON.stringify(rc.handler)} shim on a node (it shows in status.runtimeHandlers or an installer label)`)
        break
      case 'rcNodeSelector':
        fixes.push(`label a node with ${r.key} (the RuntimeClass's scheduling.nodeSelector)`)
        break
      case 'cordoned':
        fixes.push('uncordon a node, or add a toleration for node.kubernetes.io/unschedulable:NoSchedule to spec.tolerations')
        break
      case 'podNodeName':
        fixes.push(`change spec.nodeName ${r.key} to a node that can run it, or remove spec.nodeName to let the scheduler choose`)
        break
      case 'podNodeSelector':
        fixes.push(`change spec.nodeSelector ${r.key}`)
        break
      case 'podAffinity':
        fixes.push('change spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution')
        break
      case 'taint':
        fixes.push(`add a toleration for ${r.key} to spec.tolerations`)
        break
      case 'runtimeClassNotFound':
        fixes.push('create the RuntimeClass or change spec.runtimeClassName')
        break
    }
  }
  if (fixes.length === 0) fixes.push(`provision the ${JSON.stringify(rc.handler)} shim on a node, or change spec.nodeSelector, spec.affinity or spec.tolerations`)
  return [...new Set(fixes)].join(', or ')
}
