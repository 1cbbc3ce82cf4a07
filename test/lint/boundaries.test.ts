/**
 * The import directions of src/ (eslint.config.js, docs/layers.md) hold because lint rejects a
 * crossing: each case lints a small source text as if it were a file at that path, with the
 * project's own ESLint config, and expects the boundary error (or none).
 */
import t from 'tap'
import { ESLint } from 'eslint'

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname })

async function problems(filePath: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath })
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`)
}

const cases: Array<{ file: string; text: string; error?: RegExp; why: string }> = [
  { file: 'src/facts/probe.ts', text: "import { parsePolicy } from '../policy/load.js'\nexport const x = parsePolicy\n", error: /boundaries\/dependencies: .*"facts".*"policy"/, why: 'facts/ may not import policy/' },
  { file: 'src/facts/probe.ts', text: "import type { Policy } from '../domain/policy.js'\nexport type X = Policy\n", why: 'facts/ may use the shared policy type' },
  { file: 'src/admission/probe.ts', text: "import { decide } from '../policy/decide.js'\nexport const x = decide\n", error: /boundaries\/dependencies/, why: 'admission/ may not import policy/' },
  { file: 'src/admission/probe.ts', text: "import { applyMutations } from '../domain/mutations.js'\nexport const x = applyMutations\n", why: 'admission/ applies mutations from domain/' },
  { file: 'src/policy/probe.ts', text: "import { ImageInspector } from '../facts/images/inspector.js'\nexport const x = ImageInspector\n", error: /boundaries\/dependencies: .*"policy".*"facts"/, why: 'decide() gets facts as an argument, never a fact source' },
  { file: 'src/commands/probe.ts', text: "import { decide } from '../policy/decide.js'\nexport const x = decide\n", error: /only src\/pipeline\.ts runs the steps/, why: 'commands may not re-implement the sequence' },
  { file: 'src/commands/probe.ts', text: "import { gatherFacts } from '../facts/gather.js'\nexport const x = gatherFacts\n", error: /only src\/pipeline\.ts runs the steps/, why: 'commands may not gather facts themselves' },
  { file: 'src/http/probe.ts', text: "import { patchFor } from '../admission/patch.js'\nexport const x = patchFor\n", error: /only src\/pipeline\.ts runs the steps/, why: 'http may not patch' },
  { file: 'src/commands/probe.ts', text: "import { reviewTemplate } from '../pipeline.js'\nexport const x = reviewTemplate\n", why: 'commands call the one sequencer' },
  { file: 'src/pipeline.ts', text: "import { decide } from './policy/decide.js'\nexport const x = decide\n", why: 'the sequencer runs the steps' },
  { file: 'src/domain/probe.ts', text: "import { formatMessage } from '../errors.js'\nexport const x = formatMessage\n", error: /boundaries\/dependencies: .*"domain".*"errors"/, why: 'domain/ imports nothing from src/' },
  { file: 'src/facts/probe.ts', text: "import { runReview } from '../pipeline.js'\nexport const x = runReview\n", error: /boundaries\/dependencies/, why: 'no stage imports the sequencer' },
  { file: 'src/newfolder/probe.ts', text: 'export const x = 1\n', error: /boundaries\/no-unknown-files/, why: 'every file of src/ belongs to a layer' },
  { file: 'src/policy/probe.ts', text: "export const env = process.env['X']\n", error: /no-restricted-globals: .*only src\/cli\.ts touches process/, why: 'only cli.ts touches process' },
  { file: 'src/cli.ts', text: "export const env = process.env['X']\n", why: 'cli.ts is the composition root' },
]

for (const c of cases) {
  t.test(`${c.file}: ${c.why}`, async (t) => {
    const found = await problems(c.file, c.text)
    if (c.error) t.ok(found.some((p) => c.error!.test(p)), `expected ${c.error} in ${JSON.stringify(found)}`)
    else t.same(found, [], 'no problem')
  })
}
