/**
 * The one sequencer: decode -> gather facts -> decide -> patch -> encode.
 * Every path out of here is a well-formed AdmissionReview carrying the request uid.
 * `check` runs the same gather -> decide -> patch step (reviewTemplate) on objects read from a file.
 */
import type { Operation as JsonPatchOperation } from 'fast-json-patch'
import { apiVersionOf, decodeReview, uidOf } from './admission/decode.js'
import { encodeReview, type Answer } from './admission/encode.js'
import { patchFor } from './admission/patch.js'
import type { AdmissionRequest, AdmissionReview } from './admission/types.js'
import type { Endpoint } from './domain/endpoint.js'
import type { ClusterFactsSource, DeadlineSource, Facts, ImageFactsSource } from './domain/facts.js'
import type { GroupVersionKind, KubeObject, Operation } from './domain/kube.js'
import type { Policy } from './domain/policy.js'
import { isPodKind, podSpecPath, podTemplateOf, type PodTemplate } from './domain/workload.js'
import { gatherFacts, gatherFactsNowOrLater } from './facts/gather.js'
import { decide, type Decision } from './policy/decide.js'
export type { Decision, Violation } from './policy/decide.js'
import { WasmAdmissionError, formatMessage, isWasmAdmissionError } from './errors.js'
import type { RequestLogFields } from './log/logger.js'

export interface PipelineDeps {
  images: ImageFactsSource
  cluster: ClusterFactsSource
  policy: () => Policy
  /** Time budget of one review: the webhook timeout minus a safety margin. */
  deadlineMs: number
}

export interface ReviewResult {
  httpStatus: number
  review: AdmissionReview
  /** Fields for the request log line (duration filled in by the caller). */
  log: Omit<RequestLogFields, 'duration_ms'>
  error?: unknown
}

function baseLog(endpoint: Endpoint, body: unknown, req?: AdmissionRequest): ReviewResult['log'] {
  const meta = (req?.object?.['metadata'] ?? {}) as Record<string, unknown>
  return {
    uid: req?.uid ?? uidOf(body),
    kind: req ? `${req.kind.group ? req.kind.group + '/' : ''}${req.kind.kind}` : '',
    namespace: req?.namespace ?? '',
    name: req?.name || (typeof meta['name'] === 'string' ? meta['name'] : typeof meta['generateName'] === 'string' ? `${meta['generateName']}*` : ''),
    operation: req?.operation ?? '',
    user: req?.userInfo?.username ?? '',
    endpoint,
    mode: '',
    decision: 'error',
  }
}

/** The answer when the review could not be completed: mutation fails open (with a warning), validation denies. */
export function failureAnswer(endpoint: Endpoint, error: WasmAdmissionError): Answer {
  if (endpoint === 'mutate') return { allowed: true, warnings: [`wasm-admission did not mutate this object: ${error.message} (${error.code})`] }
  return { allowed: false, code: error.status, message: `wasm-admission: ${error.message} (${error.code})` }
}

function answerFor(d: Decision, patch: Answer['patch']): Answer {
  const answer: Answer = { allowed: d.allowed, warnings: d.warnings, auditAnnotations: d.auditAnnotations }
  if (!d.allowed) {
    answer.code = 403
    answer.message = `wasm-admission denied this ${d.violations.length > 1 ? `object for ${d.violations.length} reasons` : 'object'}: ${d.violations.map((v) => v.message).join('; ')}`
  }
  if (patch && patch.length > 0) answer.patch = patch
  return answer
}

/** One object to review, already decoded: its pod template located in `object`. */
export interface TemplateReview {
  endpoint: Endpoint
  operation: Operation
  kind: GroupVersionKind
  namespace: string
  /** The object exactly as received: the patch is computed against it. */
  object: KubeObject
  template: PodTemplate
  oldTemplate?: PodTemplate | undefined
}

/**
 * gather facts -> decide -> patch, for one pod template: the step the webhook (runReview) and the
 * `check` command share. The policy is read once by the caller, before the facts are gathered.
 */
export async function reviewTemplate(
  input: TemplateReview,
  sources: Pick<PipelineDeps, 'images' | 'cluster'>,
  policy: Policy,
  signal: AbortSignal,
): Promise<{ decision: Decision; patch: JsonPatchOperation[] }> {
  return reviewTemplateNowOrLater(input, sources, policy, { signal })
}

/** reviewTemplate, answered at once (no promise) when every image's facts are in the cache. */
function reviewTemplateNowOrLater(
  input: TemplateReview,
  sources: Pick<PipelineDeps, 'images' | 'cluster'>,
  policy: Policy,
  deadline: DeadlineSource,
): { decision: Decision; patch: JsonPatchOperation[] } | Promise<{ decision: Decision; patch: JsonPatchOperation[] }> {
  const facts = gatherFactsNowOrLater({ namespace: input.namespace, template: input.template }, sources.images, sources.cluster, deadline)
  return facts instanceof Promise ? facts.then((f) => decideAndPatch(input, f, policy)) : decideAndPatch(input, facts, policy)
}

function decideAndPatch(input: TemplateReview, facts: Facts, policy: Policy): { decision: Decision; patch: JsonPatchOperation[] } {
  const { endpoint, operation, kind, namespace, template, oldTemplate } = input
  const decision = decide({ endpoint, operation, kind, namespace, isPod: isPodKind(kind), template, oldTemplate }, facts, policy)
  const patch = decision.mutations.length > 0 ? patchFor(input.object, template, decision.mutations) : []
  return { decision, patch }
}

/** A workload as it is stored in the cluster: its kind, namespace and pod template. */
export interface StoredTemplate {
  kind: GroupVersionKind
  namespace: string
  template: PodTemplate
}

/**
 * The background (drift) judgement of a stored workload: the same decide() as admission, in
 * validation-only form. The stored object is judged as the CREATE of its template (a workload's
 * template as the pods it creates, after the mutation they would get; a Pod as it is). No
 * mutation is ever produced or applied. Pure: the facts come in.
 */
export function judgeStored(input: StoredTemplate, facts: Facts, policy: Policy): Decision {
  const { kind, namespace, template } = input
  return decide({ endpoint: 'validate', operation: 'CREATE', kind, namespace, isPod: isPodKind(kind), template }, facts, policy)
}

/** Gathers the facts judgeStored() needs (images through the image source and its cache; the cluster snapshot). */
export function gatherStored(input: StoredTemplate, sources: Pick<PipelineDeps, 'images' | 'cluster'>, signal: AbortSignal): Promise<Facts> {
  return gatherFacts({ namespace: input.namespace, template: input.template }, sources.images, sources.cluster, signal)
}

/** One review, decoded to encoded. `deadline`'s signal is read only if an image lookup has to wait for a registry. */
export async function runReview(endpoint: Endpoint, body: unknown, deps: PipelineDeps, deadline: DeadlineSource): Promise<ReviewResult> {
  const apiVersion = apiVersionOf(body)
  let log = baseLog(endpoint, body)
  try {
    const { request } = decodeReview(body)
    log = baseLog(endpoint, body, request)
    const answer = (a: Answer, decision: string, mode = ''): ReviewResult => ({
      httpStatus: 200,
      review: encodeReview(apiVersion, request.uid, a),
      log: { ...log, decision, mode },
    })
    if (!podSpecPath(request.kind)) {
      return answer({ allowed: true, message: formatMessage('WA_ERR_UNEXPECTED_KIND', [request.kind.kind]) }, 'skipped')
    }
    if (request.operation === 'DELETE' || request.operation === 'CONNECT') return answer({ allowed: true }, 'skipped')
    const template = podTemplateOf(request.kind, request.object)
    if (!template) throw new WasmAdmissionError('WA_ERR_OBJECT_MALFORMED', [`${request.kind.kind} has no pod spec`])
    const oldTemplate = request.operation === 'UPDATE' ? podTemplateOf(request.kind, request.oldObject) : undefined
    const namespace = request.namespace ?? ''
    const policy = deps.policy()
    const reviewed = reviewTemplateNowOrLater(
      { endpoint, operation: request.operation, kind: request.kind, namespace, object: request.object!, template, oldTemplate },
      deps,
      policy,
      deadline,
    )
    const { decision, patch } = reviewed instanceof Promise ? await reviewed : reviewed
    return answer(answerFor(decision, patch), decision.outcome, decision.mode)
  } catch (e) {
    const error = isWasmAdmissionError(e) ? e : new WasmAdmissionError('WA_ERR_INTERNAL', [(e as Error)?.message ?? String(e)], { cause: e })
    const uid = uidOf(body)
    const a = error.status === 500 ? failureAnswer(endpoint, error) : { allowed: false, code: error.status, message: `wasm-admission: ${error.message} (${error.code})` }
    return { httpStatus: 200, review: encodeReview(apiVersion, uid, a), log: { ...log, uid, decision: a.allowed ? 'error-allowed' : 'error' }, error }
  }
}
