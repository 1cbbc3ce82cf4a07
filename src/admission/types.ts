/**
 * AdmissionReview wire types (admission.k8s.io/v1 and v1beta1 share this shape).
 * Field docs follow the Kubernetes API reference.
 */
import type { GroupVersionKind, KubeObject, Operation } from '../domain/kube.js'

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number]

export interface UserInfo {
  username?: string
  uid?: string
  groups?: string[]
}

export interface AdmissionRequest {
  uid: string
  kind: GroupVersionKind
  resource?: { group: string; version: string; resource: string }
  subResource?: string
  name?: string
  namespace?: string
  operation: Operation
  userInfo?: UserInfo
  object?: KubeObject | null
  oldObject?: KubeObject | null
  dryRun?: boolean
}

export interface Status {
  code?: number
  message?: string
  reason?: string
}

export interface AdmissionResponse {
  uid: string
  allowed: boolean
  status?: Status
  patch?: string
  patchType?: 'JSONPatch'
  warnings?: string[]
  auditAnnotations?: Record<string, string>
}

export interface AdmissionReview {
  apiVersion: AdmissionApiVersion
  kind: 'AdmissionReview'
  request?: AdmissionRequest
  response?: AdmissionResponse
}
