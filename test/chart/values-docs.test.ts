// values.yaml is the documented single source: every key the schema defines carries a helm-docs
// `# --` comment, the schema and values.yaml describe the same keys, and the chart README lists them.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { isMap, parseDocument, type YAMLMap } from 'yaml'
import { CHART_DIR } from './helm.js'

interface SchemaNode {
  type?: string | string[]
  properties?: Record<string, SchemaNode>
  additionalProperties?: boolean | SchemaNode
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode
const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'))
const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8')

interface Key {
  path: string
  section: boolean
  comment: string
}

/** Keys of values.yaml, descending into maps the schema defines (closed objects). */
function keys(map: YAMLMap, node: SchemaNode | undefined, prefix: string[], out: Key[]): Key[] {
  map.items.forEach((pair, index) => {
    const key = String((pair.key as { value: unknown }).value)
    const path = [...prefix, key]
    const child = node?.properties?.[key]
    const section = isMap(pair.value) && !!child?.properties && child.additionalProperties === false
    // The yaml parser attaches the comment above a block map's first key to the map itself.
    const comment = (pair.key as { commentBefore?: string }).commentBefore ?? (index === 0 ? (map.commentBefore ?? '') : '')
    out.push({ path: path.join('.'), section, comment })
    if (section) keys(pair.value as YAMLMap, child, path, out)
  })
  return out
}

const all = keys(doc.contents as YAMLMap, schema, [], [])

t.test('every value is documented with a helm-docs comment', async (t) => {
  t.ok(all.length > 80, `${all.length} keys`)
  for (const k of all.filter((k) => !k.section)) t.match(k.comment, /(^|\n)\s*--\s+\S/, `${k.path} has a "# --" description`)
})

t.test('values.schema.json and values.yaml define the same keys', async (t) => {
  const inValues = new Set(all.map((k) => k.path))
  const inSchema: string[] = []
  const walk = (node: SchemaNode, prefix: string[]): void => {
    for (const [k, child] of Object.entries(node.properties ?? {})) {
      const path = [...prefix, k]
      inSchema.push(path.join('.'))
      if (child.properties && child.additionalProperties === false && !path.join('.').startsWith('policy')) walk(child, path)
    }
  }
  walk(schema, [])
  for (const p of inSchema) {
    if (p === 'global' || p.startsWith('certificates.certManager.issuerRef.')) continue // accepted, not defaulted
    t.ok(inValues.has(p), `${p} (schema) has a default in values.yaml`)
  }
  t.equal(schema.additionalProperties, false, 'unknown top-level keys are rejected')
})

t.test('the chart README lists every documented value', async (t) => {
  for (const k of all.filter((k) => !k.section)) t.match(readme, `\`${k.path}\``, `README mentions ${k.path}`)
})

t.test('the README values table is generated from the current values.yaml', async (t) => {
  const { renderReadme } = await import('./readme-table.js')
  t.equal(renderReadme(readme), readme, 'run: npx tsx test/chart/readme-table.ts --write')
})
