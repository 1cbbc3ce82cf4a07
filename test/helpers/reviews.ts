/** Builders of AdmissionReview bodies and pod objects as the apiserver sends them. */
import type { KubeObject } from '../../src/domain/kube.js'

export interface ContainerSpec {
  name: string
  image: string
  command?: string[]
}

export function pod(containers: ContainerSpec[], spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'pod-uid', ...metadata },
    spec: { containers: containers.map((c) => ({ ...c, resources: {} })), restartPolicy: 'Always', ...spec },
    status: {},
  }
}

export function deployment(containers: ContainerSpec[], spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'default' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers, ...spec } } },
  }
}

let n = 0
export function review(object: KubeObject | null, opts: { operation?: string; namespace?: string; apiVersion?: string; oldObject?: KubeObject; uid?: string } = {}): Record<string, unknown> {
  const kind = String(object?.['kind'] ?? 'Pod')
  const group = String(object?.['apiVersion'] ?? 'v1').includes('/') ? String(object?.['apiVersion']).split('/')[0] : ''
  return {
    apiVersion: opts.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? `uid-${++n}`,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: kind.toLowerCase() + 's' },
      namespace: opts.namespace ?? 'default',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'alice' },
      object,
      oldObject: opts.oldObject ?? null,
      dryRun: false,
    },
  }
}
