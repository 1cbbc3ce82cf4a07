/**
 * The table of coded errors. Every code is documented in docs/errors.md; a test keeps the two in step.
 * Codes are never reused. Image-fact codes also appear in UnknownImageFact.code.
 */
export interface ErrorSpec {
  /** HTTP status when the error reaches a client directly. */
  status: number
  /** Message template; `%s` is replaced by the arguments in order. */
  message: string
}

export const ERRORS = {
  // ---- admission transport and decoding
  WA_ERR_BODY_UNPARSEABLE: { status: 400, message: 'request body is not valid JSON: %s' },
  WA_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body exceeds %s bytes' },
  WA_ERR_NOT_ADMISSION_REVIEW: { status: 400, message: 'body is not an AdmissionReview: %s' },
  WA_ERR_UNSUPPORTED_API_VERSION: { status: 400, message: 'unsupported AdmissionReview apiVersion %s (want admission.k8s.io/v1 or v1beta1)' },
  WA_ERR_NO_REQUEST: { status: 400, message: 'AdmissionReview has no request' },
  WA_ERR_NO_UID: { status: 400, message: 'AdmissionReview request has no uid' },
  WA_ERR_UNEXPECTED_KIND: { status: 200, message: 'kind %s is not handled by this endpoint; allowed unchanged' },
  WA_ERR_OBJECT_MALFORMED: { status: 400, message: 'request object is malformed: %s' },
  WA_ERR_INTERNAL: { status: 500, message: 'internal error while reviewing: %s' },

  // ---- configuration and policy
  WA_ERR_CONFIG: { status: 500, message: 'invalid configuration: %s' },
  WA_ERR_POLICY_INVALID: { status: 500, message: 'invalid policy %s: %s' },
  WA_ERR_POLICY_READ: { status: 500, message: 'cannot read policy file %s: %s' },
  WA_ERR_TLS_LOAD: { status: 500, message: 'cannot load TLS key pair from %s: %s' },

  // ---- image facts (registry)
  WA_ERR_IMAGE_REFERENCE: { status: 400, message: 'invalid image reference %s: %s' },
  WA_ERR_IMAGE_DEADLINE: { status: 504, message: 'registry lookup for %s did not finish before the admission deadline' },
  WA_ERR_IMAGE_UNREACHABLE: { status: 502, message: 'registry %s is unreachable: %s' },
  WA_ERR_IMAGE_NOT_FOUND: { status: 404, message: 'image %s not found in its registry' },
  WA_ERR_IMAGE_UNAUTHORIZED: { status: 401, message: 'registry refused access to %s (credentials missing or rejected)' },
  WA_ERR_IMAGE_RATE_LIMITED: { status: 429, message: 'registry rate-limited the lookup of %s' },
  WA_ERR_IMAGE_MALFORMED: { status: 502, message: 'registry returned a malformed document for %s: %s' },
  WA_ERR_IMAGE_TOO_LARGE: { status: 502, message: 'registry document for %s exceeds the %s byte limit' },
  WA_ERR_IMAGE_DIGEST_MISMATCH: { status: 502, message: 'content digest of %s does not match: asked %s, got %s' },
  WA_ERR_IMAGE_REDIRECT: { status: 502, message: 'registry redirect for %s refused: %s' },
  WA_ERR_IMAGE_HOST_BLOCKED: { status: 403, message: 'registry host %s is not allowed: %s' },
  WA_ERR_IMAGE_REGISTRY: { status: 502, message: 'registry error for %s: %s' },
  WA_ERR_IMAGE_NOT_INSPECTED: { status: 200, message: 'image %s was not inspected: %s' },

  // ---- drift: background evaluation, reports, events, Lease, audit (docs/drift.md)
  WA_ERR_DRIFT_REPORT_API: { status: 500, message: 'the PolicyReport API (wgpolicyk8s.io/v1alpha2) is not served: %s; no report is written until it is' },
  WA_ERR_DRIFT_REPORT_WRITE: { status: 500, message: 'cannot write PolicyReport %s: %s' },
  WA_ERR_DRIFT_EVENT_WRITE: { status: 500, message: 'cannot create Event for %s: %s' },
  WA_ERR_DRIFT_LEASE: { status: 500, message: 'drift Lease %s: %s' },
  WA_ERR_AUDIT_LIST: { status: 500, message: 'cannot list %s: %s' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export function formatMessage(code: ErrorCode, args: ReadonlyArray<string | number>): string {
  let i = 0
  return ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? ''))
}

/** An error that carries its code; `message` is already formatted. */
export class WasmAdmissionError extends Error {
  readonly code: ErrorCode
  readonly status: number
  constructor(code: ErrorCode, args: ReadonlyArray<string | number> = [], options?: { cause?: unknown }) {
    super(formatMessage(code, args), options)
    this.name = 'WasmAdmissionError'
    this.code = code
    this.status = ERRORS[code].status
  }
}

export function isWasmAdmissionError(e: unknown): e is WasmAdmissionError {
  return e instanceof WasmAdmissionError
}
