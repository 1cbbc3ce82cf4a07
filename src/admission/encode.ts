import type { Operation as PatchOperation } from 'fast-json-patch'
import type { AdmissionApiVersion, AdmissionResponse, AdmissionReview } from './types.js'

export interface Answer {
  allowed: boolean
  /** Denial message (allowed=false) or informational message. */
  message?: string
  /** HTTP-ish status code for denials: 403 policy denial, 400 bad request, 500 internal, 504 deadline. */
  code?: number
  patch?: PatchOperation[]
  warnings?: string[]
  auditAnnotations?: Record<string, string>
}

const REASONS: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 413: 'RequestEntityTooLarge', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' }

/** Builds the AdmissionReview answer in the caller's apiVersion. Pure. */
export function encodeReview(apiVersion: AdmissionApiVersion, uid: string, a: Answer): AdmissionReview {
  const response: AdmissionResponse = { uid, allowed: a.allowed }
  if (!a.allowed) {
    const code = a.code ?? 403
    response.status = { code, reason: REASONS[code] ?? 'Forbidden', message: a.message ?? 'denied' }
  } else if (a.message) {
    response.status = { code: 200, message: a.message }
  }
  if (a.patch && a.patch.length > 0) {
    response.patchType = 'JSONPatch'
    response.patch = Buffer.from(JSON.stringify(a.patch)).toString('base64')
  }
  if (a.warnings && a.warnings.length > 0) response.warnings = a.warnings
  if (a.auditAnnotations && Object.keys(a.auditAnnotations).length > 0) response.auditAnnotations = a.auditAnnotations
  return { apiVersion, kind: 'AdmissionReview', response }
}
