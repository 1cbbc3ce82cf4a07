// The chart carries the policy verbatim into a ConfigMap: its schema for `policy` must be the webhook's
// own policy schema, and what it renders must load with the webhook's parser.
import t from 'tap'
import { parse } from 'yaml'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parsePolicy } from '../../src/policy/load.js'
import { POLICY_SCHEMA } from '../../src/policy/schema.js'
import { CHART_DIR, PERMUTATIONS, helmSkip, one, template } from './helm.js'

const skip = helmSkip()

t.test('values.schema.json policy = src/policy/schema.ts POLICY_SCHEMA', async (t) => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'))
  const { description: _description, ...policy } = schema.properties.policy
  t.same(policy, JSON.parse(JSON.stringify(POLICY_SCHEMA)), 'copy POLICY_SCHEMA into values.schema.json when it changes')
})

t.test('rendered policy ConfigMaps load with the webhook parser', { skip }, async (t) => {
  for (const [name, files] of [['default', []], ['helm-certs', [PERMUTATIONS.helmCerts]]] as const) {
    const { docs } = await template({ valuesFiles: [...files] })
    const text = one(docs, 'ConfigMap', 'wa-wasm-admission-policy').data['policy.yaml']
    t.doesNotThrow(() => parsePolicy(text, name), `${name} policy parses`)
  }
  const { docs } = await template({ valuesFiles: [PERMUTATIONS.helmCerts] })
  const policy = parsePolicy(one(docs, 'ConfigMap', 'wa-wasm-admission-policy').data['policy.yaml'])
  t.equal(policy.defaultMode, 'warn', 'values reach the webhook')
  t.equal(policy.mixedPods, 'deny')
  t.same(parse(one(docs, 'ConfigMap', 'wa-wasm-admission-policy').data['policy.yaml']).shimLabels, [{ key: 'kwasm.sh/kwasm-provisioned' }])
})

t.test('the chart rejects what the webhook would reject', { skip }, async (t) => {
  for (const [what, policy] of [
    ['tolerations with an unknown operator', { families: { spin: { tolerations: [{ key: 'k', operator: 'Sometimes' }] } } }],
    ['an empty handler list', { families: { wasi: { handlers: [] } } }],
    ['a non-string runtimeClass', { families: { spin: { runtimeClass: 3 } } }],
  ] as const) {
    const r = await template({ values: { policy } })
    t.not(r.code, 0, `${what}: helm template fails`)
  }
})
