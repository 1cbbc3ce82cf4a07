// The chart carries the policy verbatim into a ConfigMap: its schema for `policy` is the webhook's own
// policy schema (one copy, in values.schema.json), and what it renders must load with the webhook's parser.
import t from 'tap'
import { parse } from 'yaml'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePolicy } from '../../src/policy/load.js'
import { POLICY_SCHEMA } from '../../src/policy/schema.js'
import { CHART_DIR, PERMUTATIONS, helm, helmSkip, one, template } from './helm.js'

const skip = helmSkip()

t.test("one policy schema: the webhook's is the chart's values.schema.json policy section", async (t) => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'))
  const { description: _description, ...policy } = schema.properties.policy
  t.same(POLICY_SCHEMA, policy, 'src/policy/schema.ts reads it from the chart (no second copy)')
})

// Why the policy schema lives inside values.schema.json and not in a file of its own that both the
// chart and the webhook could $ref: Helm 3.22 compiles values.schema.json as
// file:///values.schema.json, so a relative $ref resolves against the filesystem root, never the
// chart (helm.sh/helm/v3 pkg/chartutil/jsonschema.go, ValidateAgainstSingleSchema). If this test
// fails one day, Helm resolves chart-relative references and the schema can move to its own file.
t.test('helm does not resolve a $ref to a file beside values.schema.json', { skip }, async (t) => {
  const chart = mkdtempSync(join(tmpdir(), 'wa-ref-chart-'))
  t.teardown(() => rmSync(chart, { recursive: true, force: true }))
  mkdirSync(join(chart, 'templates'))
  writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: ref\nversion: 0.1.0\n')
  writeFileSync(join(chart, 'values.yaml'), 'policy: {defaultMode: enforce}\n')
  writeFileSync(join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ref}\ndata: {mode: {{ .Values.policy.defaultMode | quote }}}\n')
  writeFileSync(join(chart, 'policy.schema.json'), JSON.stringify(POLICY_SCHEMA))
  writeFileSync(join(chart, 'values.schema.json'), JSON.stringify({ type: 'object', properties: { policy: { $ref: 'policy.schema.json' } } }))
  const r = await helm(['template', 'ref', chart])
  t.not(r.code, 0, 'helm template fails although the file is in the chart')
  t.match(r.stderr, /file:\/\/\/policy\.schema\.json.*no such file/, 'it looked for /policy.schema.json at the filesystem root')
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
