import { ADMISSION_API_VERSIONS, type AdmissionApiVersion, type AdmissionRequest } from './types.js'
import { WasmAdmissionError } from '../errors.js'

export interface Decoded {
  apiVersion: AdmissionApiVersion
  request: AdmissionRequest
}

/** Finds a request uid in any JSON value, so even a rejected review can be answered with it. */
export function uidOf(body: unknown): string {
  if (body && typeof body === 'object') {
    const req = (body as Record<string, unknown>)['request']
    if (req && typeof req === 'object') {
      const uid = (req as Record<string, unknown>)['uid']
      if (typeof uid === 'string') return uid
    }
  }
  return ''
}

/** apiVersion of the caller when it is one we speak, else v1. */
export function apiVersionOf(body: unknown): AdmissionApiVersion {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)['apiVersion'] : undefined
  return (ADMISSION_API_VERSIONS as readonly unknown[]).includes(v) ? (v as AdmissionApiVersion) : 'admission.k8s.io/v1'
}

/** Scans the first bytes of a body too large to parse for the request uid. */
export function uidFromPrefix(prefix: string): string {
  const m = /"request"\s*:\s*\{[^]*?"uid"\s*:\s*"((?:[^"\\]|\\.){1,128})"/.exec(prefix)
  return m?.[1] ?? ''
}

function fail(msg: string): never {
  throw new WasmAdmissionError('WA_ERR_NOT_ADMISSION_REVIEW', [msg])
}

/** Validates the envelope of a parsed body. Pure; throws coded errors. */
export function decodeReview(body: unknown): Decoded {
  if (!body || typeof body !== 'object' || Array.isArray(body)) fail('expected a JSON object')
  const b = body as Record<string, unknown>
  if (b['kind'] !== 'AdmissionReview') fail(`kind is ${JSON.stringify(b['kind'])}, want "AdmissionReview"`)
  if (!(ADMISSION_API_VERSIONS as readonly unknown[]).includes(b['apiVersion'])) {
    throw new WasmAdmissionError('WA_ERR_UNSUPPORTED_API_VERSION', [JSON.stringify(b['apiVersion'])])
  }
  const r = b['request']
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new WasmAdmissionError('WA_ERR_NO_REQUEST')
  const req = r as Record<string, unknown>
  if (typeof req['uid'] !== 'string' || req['uid'] === '') throw new WasmAdmissionError('WA_ERR_NO_UID')
  const kind = req['kind'] as Record<string, unknown> | undefined
  if (!kind || typeof kind !== 'object' || typeof kind['kind'] !== 'string') fail('request.kind is missing')
  if (typeof req['operation'] !== 'string') fail('request.operation is missing')
  for (const f of ['object', 'oldObject'] as const) {
    const o = req[f]
    if (o !== undefined && o !== null && (typeof o !== 'object' || Array.isArray(o))) {
      throw new WasmAdmissionError('WA_ERR_OBJECT_MALFORMED', [`request.${f} is not an object`])
    }
  }
  const request: AdmissionRequest = {
    ...(req as unknown as AdmissionRequest),
    kind: { group: typeof kind['group'] === 'string' ? kind['group'] : '', version: String(kind['version'] ?? ''), kind: kind['kind'] as string },
  }
  return { apiVersion: b['apiVersion'] as AdmissionApiVersion, request }
}
