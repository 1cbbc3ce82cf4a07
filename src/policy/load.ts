import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { defaultPolicy } from './defaults.js'
import { POLICY_SCHEMA } from './schema.js'
import type { FamilyPolicy, Policy } from '../domain/policy.js'
import { RUNTIME_FAMILIES } from '../domain/facts.js'
import type { Toleration } from '../domain/kube.js'
import { WasmAdmissionError } from '../errors.js'

const ajv = new Ajv({ allErrors: true, strict: true })
const validate = ajv.compile(POLICY_SCHEMA)

/** `/families/spin/handlers/0` -> `families.spin.handlers[0]` */
function fieldName(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1)
  if (e.keyword === 'additionalProperties') parts.push(String(e.params['additionalProperty']))
  if (e.keyword === 'required') parts.push(String(e.params['missingProperty']))
  let out = ''
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p
  return out || '(top level)'
}

function describe(e: ErrorObject): string {
  const field = fieldName(e)
  switch (e.keyword) {
    case 'additionalProperties': return `${field}: unknown field`
    case 'enum': return `${field}: must be one of ${(e.params['allowedValues'] as unknown[]).map(String).join(', ')}`
    case 'required': return `${field}: is required`
    default: return `${field}: ${e.message ?? 'is invalid'}`
  }
}

/**
 * Parses and validates a policy document (YAML or JSON text). Keys left out take their defaults;
 * a family given in part keeps the default for the rest. Throws WA_ERR_POLICY_INVALID naming each bad field.
 */
export function parsePolicy(text: string, source = 'policy'): Policy {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new WasmAdmissionError('WA_ERR_POLICY_INVALID', [source, `not valid YAML: ${(e as Error).message.split('\n')[0]}`])
  }
  if (doc === null || doc === undefined) doc = {}
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).map(describe)
    throw new WasmAdmissionError('WA_ERR_POLICY_INVALID', [source, [...new Set(msgs)].join('; ')])
  }
  return mergeWithDefaults(doc as PolicyDocument)
}

interface FamilyDocument {
  runtimeClass?: string
  handlers?: string[]
  tolerations?: Toleration[]
  annotations?: Record<string, string>
}
type PolicyDocument = Partial<Omit<Policy, 'families'>> & { families?: Partial<Record<string, FamilyDocument>>; apiVersion?: string; kind?: string }

function mergeFamily(base: FamilyPolicy, doc: FamilyDocument | undefined): FamilyPolicy {
  if (!doc) return base
  return {
    runtimeClass: doc.runtimeClass === undefined ? base.runtimeClass : doc.runtimeClass === 'auto' ? 'auto' : { name: doc.runtimeClass },
    handlers: doc.handlers ?? base.handlers,
    tolerations: doc.tolerations ?? base.tolerations,
    annotations: doc.annotations ?? base.annotations,
  }
}

function mergeWithDefaults(doc: PolicyDocument): Policy {
  const base = defaultPolicy()
  const families = { ...base.families }
  for (const f of RUNTIME_FAMILIES) families[f] = mergeFamily(base.families[f], doc.families?.[f])
  return {
    defaultMode: doc.defaultMode ?? base.defaultMode,
    mixedPods: doc.mixedPods ?? base.mixedPods,
    onUnknownImage: doc.onUnknownImage ?? base.onUnknownImage,
    linuxUnderWasmRuntimeClass: doc.linuxUnderWasmRuntimeClass ?? base.linuxUnderWasmRuntimeClass,
    trustRuntimeClassNodeSelector: doc.trustRuntimeClassNodeSelector ?? base.trustRuntimeClassNodeSelector,
    requireEligibleNode: doc.requireEligibleNode ?? base.requireEligibleNode,
    shimLabels: doc.shimLabels ?? base.shimLabels,
    families,
  }
}
