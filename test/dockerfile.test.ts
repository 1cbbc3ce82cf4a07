// Static checks of the Dockerfile (no container engine is needed to run them; building the image is).
// A tiny parser: logical lines (backslash continuations joined), comments dropped, stages split at FROM.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import t from 'tap'

const ROOT = resolve(import.meta.dirname, '..')
const text = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')

interface Instruction {
  op: string
  args: string
}

function instructions(src: string): Instruction[] {
  const logical: string[] = []
  let cur = ''
  for (const raw of src.split('\n')) {
    const line = raw.trim()
    if (cur === '' && (line === '' || line.startsWith('#'))) continue
    if (line.startsWith('#')) continue // comment inside a continuation
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' '
      continue
    }
    logical.push(cur + line)
    cur = ''
  }
  return logical.map((l) => {
    const m = /^(\S+)\s*(.*)$/.exec(l)
    return { op: (m?.[1] ?? '').toUpperCase(), args: m?.[2] ?? '' }
  })
}

const all = instructions(text)
const globalArgs = new Map<string, string>()
for (const i of all) {
  if (i.op === 'FROM') break
  if (i.op === 'ARG') {
    const [k, v] = i.args.split('=', 2)
    if (k && v !== undefined) globalArgs.set(k.trim(), v.trim())
  }
}

interface Stage {
  from: string
  name: string | undefined
  body: Instruction[]
}
const stages: Stage[] = []
for (const i of all) {
  if (i.op === 'FROM') {
    const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)
    stages.push({ from: m?.[1] ?? '', name: m?.[2], body: [] })
  } else if (stages.length > 0) {
    stages.at(-1)?.body.push(i)
  }
}
const final = stages.at(-1) as Stage

/** Resolves ${ARG} / $ARG in a FROM using the global ARG defaults. */
function resolveImage(from: string): string {
  return from.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, k: string) => globalArgs.get(k) ?? `<unset ${k}>`)
}

t.test('multi-stage build with a separate production-dependency stage', async (t) => {
  t.ok(stages.length >= 3, `${stages.length} stages`)
  const names = stages.map((s) => s.name)
  const runs = (s: Stage): string => s.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n')
  const build = stages.find((s) => /npm run build|tsc/.test(runs(s)))
  t.ok(build, 'a stage compiles the TypeScript')
  t.match(runs(build as Stage), /npm ci(?!.*--omit=dev)/, 'the build stage installs all dependencies with npm ci')
  const prod = stages.find((s) => /npm ci\b.*--omit=dev/.test(runs(s)))
  t.ok(prod, 'a stage runs npm ci --omit=dev')
  t.not(prod, final, 'production dependencies are installed in a prior stage, not in the final image')
  t.ok(names.includes(prod?.name), 'that stage is named so the final stage can copy from it')
})

t.test('base images are pinned (no :latest, no bare names)', async (t) => {
  for (const s of stages) {
    if (stages.some((o) => o.name === s.from)) continue // FROM another stage
    const image = resolveImage(s.from)
    t.notMatch(image, /<unset /, `${s.from}: every ARG has a default`)
    t.notMatch(image, /:latest(@|$)/, `${image}: not :latest`)
    const digest = /@sha256:[a-f0-9]{64}$/.test(image)
    const tag = /^[^@]+:[^:/@]+$/.exec(image.split('@')[0] ?? '')
    t.ok(digest || tag, `${image}: pinned by digest or an explicit tag`)
  }
  const finalImage = resolveImage(final.from)
  t.match(finalImage, /^gcr\.io\/distroless\/nodejs24-debian12:nonroot/, 'final image is distroless Node 24 (nonroot)')
  const buildImage = resolveImage((stages[0] as Stage).from)
  t.match(buildImage, /node:24\.\d+\.\d+-bookworm-slim/, 'build image pins an exact Node 24 release')
})

t.test('final stage: non-root, production, exec-form CMD, no dev dependencies', async (t) => {
  const body = final.body
  const user = body.filter((i) => i.op === 'USER').at(-1)
  t.ok(user, 'USER is set in the final stage')
  const u = (user?.args ?? '').split(':')[0] ?? ''
  t.not(u, 'root')
  t.not(u, '0')
  t.ok(u === 'nonroot' || Number(u) >= 1000, `USER ${user?.args} is a non-root uid`)
  t.ok(body.some((i) => i.op === 'ENV' && /NODE_ENV=production/.test(i.args)), 'NODE_ENV=production')
  t.same(body.filter((i) => i.op === 'RUN'), [], 'no RUN in the final stage (distroless has no shell)')

  const cmd = body.filter((i) => i.op === 'CMD').at(-1)
  t.ok(cmd, 'CMD is set')
  let parsed: unknown
  t.doesNotThrow(() => (parsed = JSON.parse(cmd?.args ?? '')), 'CMD is exec form (a JSON array)')
  t.same(parsed, ['dist/src/cli.js', 'serve'], 'node (the distroless entrypoint) runs the serve command directly')
  t.notOk(body.some((i) => i.op === 'ENTRYPOINT' && !i.args.startsWith('[')), 'no shell-form ENTRYPOINT')

  const copies = body.filter((i) => i.op === 'COPY')
  const nodeModules = copies.filter((i) => /node_modules/.test(i.args))
  t.equal(nodeModules.length, 1, 'node_modules copied once')
  const prodStage = stages.find((s) => s.body.some((i) => i.op === 'RUN' && /--omit=dev/.test(i.args)))
  t.match(nodeModules[0]?.args ?? '', new RegExp(`--from=${prodStage?.name}\\b`), 'node_modules come from the --omit=dev stage')
  for (const c of copies) t.notOk(/(^|\s)\.\/?\s+\S+$/.test(c.args) && !c.args.includes('--from'), `COPY ${c.args} does not copy the whole context`)
  t.ok(copies.some((i) => /dist\/src/.test(i.args)), 'compiled dist/src copied')
  t.ok(copies.some((i) => /package\.json/.test(i.args)), 'package.json copied ("type": "module")')
})

t.test('.dockerignore keeps the build context small and secret-free', async (t) => {
  const ignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
  for (const p of ['**/node_modules', '.git', 'dist', 'test', 'charts', 'certs', '.env']) t.ok(ignore.includes(p), `ignores ${p}`)
})
