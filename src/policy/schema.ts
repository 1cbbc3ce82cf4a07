/**
 * JSON schema of the policy file. Every object is closed: an unknown key is an error that names it.
 *
 * There is one copy: the `policy` property of the chart's values.schema.json, read from there. Helm
 * needs the schema inside values.schema.json itself: Helm 3.22 compiles that file as
 * `file:///values.schema.json`, so a `$ref` to a file beside it resolves to the filesystem root, not
 * the chart (test/chart/policy.test.ts shows it with the real helm), and a generated file in the
 * chart would have to be committed. So the webhook reads the chart's copy: `npm run build` emits it
 * to dist/charts/wasm-admission/values.schema.json, and the Dockerfile ships it.
 */
import values from '../../charts/wasm-admission/values.schema.json' with { type: 'json' }

const { description: _description, ...policy } = values.properties.policy

export const POLICY_SCHEMA: Record<string, unknown> = policy
