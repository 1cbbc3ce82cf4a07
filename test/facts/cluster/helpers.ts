// Test helpers for cluster facts: node / RuntimeClass builders and a policy.
import { join } from 'node:path'
import type { Policy } from '../../../src/domain/policy.js'
import { defaultPolicy } from '../../../src/policy/defaults.js'
import type { PodScheduling, Taint } from '../../../src/domain/kube.js'
import type { RuntimeClassInfo } from '../../../src/domain/facts.js'
import type { NodeSummary } from '../../../src/facts/cluster/node-summary.js'

/** The default policy; tests override what they exercise. */
export function testPolicy(over: Partial<Policy> = {}): Policy {
  return { ...defaultPolicy(), ...over }
}

export function node(name: string, over: Partial<NodeSummary> = {}): NodeSummary {
  return { name, labels: {}, taints: [], unschedulable: false, ready: true, runtimeHandlers: null, ...over }
}

export function rc(name: string, handler: string, nodeSelector: Record<string, string> = {}, over: Partial<RuntimeClassInfo> = {}): RuntimeClassInfo {
  return { name, handler, nodeSelector, tolerations: [], ...over }
}

export function pod(over: Partial<PodScheduling> = {}): PodScheduling {
  return { nodeSelector: {}, requiredNodeAffinity: [], tolerations: [], ...over }
}

export function taint(key: string, value: string | undefined, effect: Taint['effect']): Taint {
  return value === undefined ? { key, effect } : { key, value, effect }
}

/** Node JSON as the API server returns it. */
export function nodeJson(name: string, o: {
  labels?: Record<string, string>
  taints?: Taint[]
  unschedulable?: boolean
  ready?: boolean | 'Unknown'
  runtimeHandlers?: string[]
} = {}): Record<string, unknown> {
  const status: Record<string, unknown> = {
    conditions: [
      { type: 'MemoryPressure', status: 'False' },
      { type: 'Ready', status: o.ready === undefined ? 'True' : o.ready === 'Unknown' ? 'Unknown' : o.ready ? 'True' : 'False' },
    ],
  }
  if (o.runtimeHandlers) status.runtimeHandlers = o.runtimeHandlers.map((h) => ({ name: h, features: { recursiveReadOnlyMounts: true } }))
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: o.labels ?? {} },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status,
  }
}

/** The seed-tutorial cluster (6 nodes, wasm1 and spin-test) and its expected messages. */
export const SEED_FILE = join(import.meta.dirname, '../../fixtures/cluster/seed-cluster.yaml')
export const SEED_WASM1 =
  '1/6 nodes can run RuntimeClass wasm1 (handler wasmtime): 1 lacks the wasmtime shim, 2 do not match nodeSelector wasmtime-enabled=yes, 1 is cordoned, 1 has untolerated taint node.kubernetes.io/not-ready:NoSchedule'
export const SEED_SPIN =
  '1/6 nodes can run RuntimeClass spin-test (handler spin): 1 lacks the spin shim, 2 do not match nodeSelector spin=yes, 1 is cordoned, 1 has untolerated taint wasm=true:NoSchedule'
