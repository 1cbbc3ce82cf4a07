/** JSON schema of the policy file. Every object is closed: an unknown key is an error that names it. */
const toleration = {
  type: 'object',
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    operator: { enum: ['Exists', 'Equal'] },
    value: { type: 'string' },
    effect: { enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
    tolerationSeconds: { type: 'integer' },
  },
} as const

const family = {
  type: 'object',
  additionalProperties: false,
  properties: {
    runtimeClass: { type: 'string', minLength: 1, description: '"auto" or the name of a RuntimeClass' },
    handlers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    tolerations: { type: 'array', items: toleration },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'wasm-admission.io/v1alpha1' },
    kind: { const: 'Policy' },
    defaultMode: { enum: ['enforce', 'warn', 'audit', 'off'] },
    mixedPods: { enum: ['allow', 'deny'] },
    onUnknownImage: { enum: ['allow', 'deny'] },
    linuxUnderWasmRuntimeClass: { enum: ['allow', 'deny'] },
    trustRuntimeClassNodeSelector: { type: 'boolean' },
    requireEligibleNode: { type: 'boolean' },
    shimLabels: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key'],
        properties: {
          key: { type: 'string', minLength: 1 },
          value: { type: 'string' },
          handlers: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
    },
    families: {
      type: 'object',
      additionalProperties: false,
      properties: { spin: family, slight: family, wasi: family, crun: family },
    },
  },
} as const
