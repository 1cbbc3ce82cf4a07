import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ERRORS, WasmAdmissionError, formatMessage, type ErrorCode } from '../src/errors.js'

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set([...doc.matchAll(/^\| `(WA_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]))

t.test('every code in src/errors.ts is documented in docs/errors.md, and only those', async (t) => {
  t.same([...documented].sort(), Object.keys(ERRORS).sort())
})

/** Every .ts file under src/, with its text. */
function sources(dir: string): Array<[string, string]> {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'utf8')] as [string, string])
}

t.test('every code in src/errors.ts is produced somewhere in src/ (not only compared against)', async (t) => {
  const root = new URL('../src/', import.meta.url).pathname
  const texts = sources(root).filter(([f]) => f !== join(root, 'errors.ts'))
  for (const code of Object.keys(ERRORS)) {
    // A use that is not a comparison (`=== 'X'`, `!== 'X'`, `case 'X'`): a constructor argument, a
    // `code:` field, a formatMessage argument, a table entry.
    const produced = texts.some(([, text]) => [...text.matchAll(new RegExp(`(\\S*)\\s*'${code}'`, 'g'))].some((m) => !/^(===|!==|case)$/.test(m[1]!)))
    t.ok(produced, code)
  }
})

t.test('messages interpolate their arguments in order and carry code and status', async (t) => {
  t.equal(formatMessage('WA_ERR_POLICY_INVALID', ['p.yaml', 'x: bad']), 'invalid policy p.yaml: x: bad')
  const e = new WasmAdmissionError('WA_ERR_BODY_TOO_LARGE', [10])
  t.equal(e.code, 'WA_ERR_BODY_TOO_LARGE')
  t.equal(e.status, 413)
  t.equal(e.message, 'request body exceeds 10 bytes')
  for (const code of Object.keys(ERRORS) as ErrorCode[]) t.ok(ERRORS[code].message.length > 0, code)
})
