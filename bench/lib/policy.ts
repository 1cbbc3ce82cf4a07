// What a user might write instead of wasm-admission: an in-process MutatingAdmissionPolicy (CEL) that
// sets runtimeClassName from an image-name pattern. The apiserver's RuntimeClass admission plugin then
// adds the class's scheduling and overhead in the reinvocation pass (in-tree plugins are re-run when a
// policy or webhook changes the object: k8s.io/apiserver pkg/admission/reinvocation.go, v0.36.3).
// It cannot look at the registry or the nodes: it is the latency a user gives up by choosing
// wasm-admission, not a functional equivalent.

/** The RuntimeClass the policy sets (created by the bench, handler spin, nodeSelector spin=yes). */
export const MAP_RUNTIME_CLASS = 'spin-test'
/** CEL regular expression (RE2) on each container's image: a repository named spin-... */
export const MAP_IMAGE_PATTERN = '/spin-[^/:@]*([:@]|$)'

const API = '/apis/admissionregistration.k8s.io/v1'

/**
 * The policy and its binding, matching pod CREATE in the namespaces the chart's mutating webhook
 * matches (its namespaceSelector), failure policy and reinvocation policy as that webhook's.
 */
export function mutatingAdmissionPolicy(chartMutatingWebhook: { namespaceSelector?: unknown; failurePolicy?: string; reinvocationPolicy?: string }): Array<{ path: string; obj: any }> {
  const name = 'wasm-runtime-class-by-image'
  return [
    {
      path: `${API}/mutatingadmissionpolicies`,
      obj: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingAdmissionPolicy',
        metadata: { name },
        spec: {
          matchConstraints: {
            resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            ...(chartMutatingWebhook.namespaceSelector ? { namespaceSelector: chartMutatingWebhook.namespaceSelector } : {}),
          },
          matchConditions: [
            { name: 'no-runtime-class', expression: '!has(object.spec.runtimeClassName)' },
            { name: 'wasm-image', expression: `object.spec.containers.exists(c, c.image.matches('${MAP_IMAGE_PATTERN}'))` },
          ],
          failurePolicy: chartMutatingWebhook.failurePolicy ?? 'Fail',
          reinvocationPolicy: chartMutatingWebhook.reinvocationPolicy ?? 'IfNeeded',
          mutations: [
            {
              patchType: 'ApplyConfiguration',
              applyConfiguration: { expression: `Object{ spec: Object.spec{ runtimeClassName: "${MAP_RUNTIME_CLASS}" } }` },
            },
          ],
        },
      },
    },
    {
      path: `${API}/mutatingadmissionpolicybindings`,
      obj: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName: name } },
    },
  ]
}
