/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`, e.g. through the bench's --node-args):
 * self time by function and inclusive time by function, as % of the busy (non-idle) samples, with
 * the file and line. Inclusive time counts a function once per sample however often it recurs.
 *
 *   node --import tsx bench/profile-top.ts PROFILE.cpuprofile [N] [FILTER]
 *
 * FILTER (a substring of the script URL, e.g. `/dist/src/`) limits the inclusive list to those files.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

const [file, nArg, filter] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: profile-top.ts PROFILE.cpuprofile [N] [FILTER]\n')
  process.exit(2)
}
const top = Number(nArg ?? 25)
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] }
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const short = (url: string): string => url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/').replace(/^file:\/\/\/.*\/wt\/[^/]+\//, '')
const key = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)'])

const self = new Map<string, number>()
const incl = new Map<string, number>()
let busy = 0
let gc = 0
for (const id of prof.samples) {
  const n = byId.get(id)!
  const fn = n.callFrame.functionName
  if (fn === '(idle)' || fn === '(program)') continue
  busy++
  if (fn === '(garbage collector)') gc++
  self.set(key(n), (self.get(key(n)) ?? 0) + 1)
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const c = byId.get(cur)!
    if (IDLE.has(c.callFrame.functionName) || c.callFrame.functionName === '(root)') continue
    const k = key(c)
    if (seen.has(k)) continue
    seen.add(k)
    incl.set(k, (incl.get(k) ?? 0) + 1)
  }
}
const pct = (x: number): string => `${((100 * x) / busy).toFixed(1).padStart(5)} %`
const out: string[] = [`${file}: ${busy} busy samples (${prof.samples.length} in all); garbage collector ${pct(gc)}`, '', `self time, top ${top}:`]
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v)}  ${k}`)
out.push('', `inclusive time, top ${top}${filter ? ` in files matching ${filter}` : ''}:`)
for (const [k, v] of [...incl].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v)}  ${k}`)
process.stdout.write(out.join('\n') + '\n')
