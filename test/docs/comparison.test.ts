// docs/comparison.md shows the Kyverno MutatingPolicy the bench measures (bench/peers/kyverno/). The
// page promises "the Kyverno policy used, so a reader can reproduce it": the copy in the page must be
// the file, byte for byte, or the page describes a policy nobody measured.
import t from 'tap'
import { readFileSync } from 'node:fs'

const page = readFileSync('docs/comparison.md', 'utf8')
const yamlBlocks = [...page.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1])

t.test('the MutatingPolicy in docs/comparison.md is bench/peers/kyverno/mutatingpolicy.yaml', async (t) => {
  const file = readFileSync('bench/peers/kyverno/mutatingpolicy.yaml', 'utf8')
  t.ok(yamlBlocks.length > 0, 'the page has a yaml block')
  t.ok(yamlBlocks.includes(file), 'one yaml block of the page equals the file')
})

t.test('every policy file the page links exists', async (t) => {
  const links = [...page.matchAll(/\]\(\.\.\/(bench\/peers\/kyverno\/[a-z-]+\.yaml)\)/g)].map((m) => m[1]!)
  t.ok(links.length >= 3, `links: ${[...new Set(links)].join(', ')}`)
  for (const l of new Set(links)) t.ok(readFileSync(l, 'utf8').length > 0, l)
})
