import t from 'tap'
import { readFileSync } from 'node:fs'
import { ERRORS, WasmAdmissionError, formatMessage, type ErrorCode } from '../src/errors.js'

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set([...doc.matchAll(/^\| `(WA_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]))

t.test('every code in src/errors.ts is documented in docs/errors.md, and only those', async (t) => {
  t.same([...documented].sort(), Object.keys(ERRORS).sort())
})

t.test('messages interpolate their arguments in order and carry code and status', async (t) => {
  t.equal(formatMessage('WA_ERR_POLICY_INVALID', ['p.yaml', 'x: bad']), 'invalid policy p.yaml: x: bad')
  const e = new WasmAdmissionError('WA_ERR_BODY_TOO_LARGE', [10])
  t.equal(e.code, 'WA_ERR_BODY_TOO_LARGE')
  t.equal(e.status, 413)
  t.equal(e.message, 'request body exceeds 10 bytes')
  for (const code of Object.keys(ERRORS) as ErrorCode[]) t.ok(ERRORS[code].message.length > 0, code)
})
