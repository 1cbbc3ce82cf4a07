import t from 'tap'
import { detectShim, type ShimEvidence } from '../../../src/facts/cluster/shim-detection.js'
import type { ShimLabel } from '../../../src/domain/policy.js'
import { node, rc } from './helpers.js'

const trust = { trustRuntimeClassNodeSelector: true, shimLabels: [] as ShimLabel[] }
const noTrust = { trustRuntimeClassNodeSelector: false, shimLabels: [] as ShimLabel[] }

const spinTest = rc('spin-test', 'spin', { spin: 'yes' })
const rcmSpin = rc('wasmtime-spin-v2', 'spin-v2', { spin: 'true' })
const k3sSpin = rc('spin', 'spin')

const cases: Array<{
  name: string
  n: ReturnType<typeof node>
  r: ReturnType<typeof rc>
  policy?: { trustRuntimeClassNodeSelector: boolean; shimLabels: ShimLabel[] }
  present: boolean
  evidence: ShimEvidence
}> = [
  { name: 'runtimeHandlers lists handler', n: node('a', { runtimeHandlers: ['', 'runc', 'spin'] }), r: spinTest, present: true, evidence: 'runtimeHandlers' },
  {
    name: 'runtimeHandlers lists handler, no labels, RC selector not trusted',
    n: node('a', { runtimeHandlers: ['spin'] }),
    r: spinTest,
    policy: noTrust,
    present: true,
    evidence: 'runtimeHandlers',
  },
  {
    name: 'runtimeHandlers reported without handler beats RCM provisioned label (the field-report caution, docs/wasm-oci.md §7)',
    n: node('a', { runtimeHandlers: ['', 'runc', 'untrusted'], labels: { 'spin-v2': 'provisioned', spin: 'true' } }),
    r: rcmSpin,
    present: false,
    evidence: 'runtimeHandlers',
  },
  {
    name: 'runtimeHandlers reported without handler beats matching RC nodeSelector',
    n: node('a', { runtimeHandlers: [''], labels: { spin: 'yes' } }),
    r: spinTest,
    present: false,
    evidence: 'runtimeHandlers',
  },
  { name: 'RCM <handler>=provisioned', n: node('a', { labels: { 'spin-v2': 'provisioned' } }), r: rcmSpin, policy: noTrust, present: true, evidence: 'label' },
  {
    name: 'RCM <rcName>=provisioned',
    n: node('a', { labels: { 'wasmtime-spin-v2': 'provisioned' } }),
    r: rcmSpin,
    policy: noTrust,
    present: true,
    evidence: 'label',
  },
  {
    name: 'RCM pending is an explicit negative, even with a trusted matching selector',
    n: node('a', { labels: { 'spin-v2': 'pending', spin: 'true' } }),
    r: rcmSpin,
    present: false,
    evidence: 'label',
  },
  { name: 'RCM failed', n: node('a', { labels: { 'spin-v2': 'failed' } }), r: rcmSpin, present: false, evidence: 'label' },
  {
    name: 'KWasm provisioned label vouches for a KWasm handler',
    n: node('a', { labels: { 'kwasm.sh/kwasm-provisioned': 'a' } }),
    r: rc('wasmedge', 'wasmedge'),
    policy: noTrust,
    present: true,
    evidence: 'label',
  },
  {
    name: 'KWasm label does not vouch for an unknown handler',
    n: node('a', { labels: { 'kwasm.sh/kwasm-provisioned': 'a' } }),
    r: rc('gvisor', 'runsc'),
    policy: noTrust,
    present: false,
    evidence: 'none',
  },
  {
    name: 'AKS wasmtime-spin-v2=true vouches for spin handler',
    n: node('a', { labels: { 'kubernetes.azure.com/wasmtime-spin-v2': 'true' } }),
    r: rc('wasmtime-spin-v2', 'spin'),
    policy: noTrust,
    present: true,
    evidence: 'label',
  },
  {
    name: 'AKS spin label does not vouch for slight',
    n: node('a', { labels: { 'kubernetes.azure.com/wasmtime-spin-v2': 'true' } }),
    r: rc('wasmtime-slight-v1', 'slight'),
    policy: noTrust,
    present: false,
    evidence: 'none',
  },
  {
    name: 'policy shimLabel with value and handlers',
    n: node('a', { labels: { 'example.com/wasm': 'ready' } }),
    r: spinTest,
    policy: { trustRuntimeClassNodeSelector: false, shimLabels: [{ key: 'example.com/wasm', value: 'ready', handlers: ['spin'] }] },
    present: true,
    evidence: 'label',
  },
  {
    name: 'policy shimLabel with wrong value',
    n: node('a', { labels: { 'example.com/wasm': 'no' } }),
    r: spinTest,
    policy: { trustRuntimeClassNodeSelector: false, shimLabels: [{ key: 'example.com/wasm', value: 'ready' }] },
    present: false,
    evidence: 'none',
  },
  {
    name: 'policy shimLabel for another handler',
    n: node('a', { labels: { 'example.com/wasm': 'ready' } }),
    r: spinTest,
    policy: { trustRuntimeClassNodeSelector: false, shimLabels: [{ key: 'example.com/wasm', handlers: ['wasmtime'] }] },
    present: false,
    evidence: 'none',
  },
  { name: 'trusted RC nodeSelector matches', n: node('a', { labels: { spin: 'yes' } }), r: spinTest, present: true, evidence: 'runtimeClassNodeSelector' },
  {
    name: 'trusted RC nodeSelector does not match',
    n: node('a', { labels: { spin: 'no' } }),
    r: spinTest,
    present: false,
    evidence: 'runtimeClassNodeSelector',
  },
  { name: 'untrusted RC nodeSelector', n: node('a', { labels: { spin: 'yes' } }), r: spinTest, policy: noTrust, present: false, evidence: 'none' },
  { name: 'k3s RC without nodeSelector proves nothing', n: node('a'), r: k3sSpin, present: false, evidence: 'none' },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const v = detectShim(c.n, c.r, c.policy ?? trust)
    t.equal(v.present, c.present, 'present')
    t.equal(v.evidence, c.evidence, 'evidence')
    t.type(v.detail, 'string')
  })
}
