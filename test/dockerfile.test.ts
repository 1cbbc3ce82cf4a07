// Static checks of the Dockerfile (no container engine is needed to run them; test/image/ builds it
// for real with buildah). The parser and the stage reproduction are in test/harness/dockerfile.ts.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'

import { parseDockerfile, reproduceStages, type Dockerfile, type ReproducedStage, type Stage } from './harness/dockerfile.js'

const ROOT = resolve(import.meta.dirname, '..')
const text = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')
const { globalArgs, stages } = parseDockerfile(text)
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
  // The heap defaults ship in the image (docker run) and in the chart (NODE_OPTIONS from
  // deployment.nodeOptions, which replaces the image's env): one value, so both run alike.
  const nodeOptionsEnv = body.filter((i) => i.op === 'ENV' && /^NODE_OPTIONS=/.test(i.args)).at(-1)
  const chartValues = parseYaml(readFileSync(resolve(ROOT, 'charts/wasm-admission/values.yaml'), 'utf8')) as { deployment: { nodeOptions: string; mallocEnv: Record<string, string> } }
  t.equal(JSON.parse(nodeOptionsEnv?.args.slice('NODE_OPTIONS='.length) ?? '""'), chartValues.deployment.nodeOptions, 'ENV NODE_OPTIONS equals the chart\'s deployment.nodeOptions')
  t.match(chartValues.deployment.nodeOptions, /--max-old-space-size=\d+/, 'the defaults cap the old space')
  // The glibc malloc tuning likewise: the image's ENV and the chart's deployment.mallocEnv are one set.
  const mallocEnv: Record<string, string> = {}
  for (const i of body.filter((i) => i.op === 'ENV')) for (const m of i.args.matchAll(/(?:^|\s)(MALLOC_[A-Z_]+)=("[^"]*"|\S+)/g)) mallocEnv[m[1]!] = m[2]!.replace(/^"|"$/g, '')
  t.same(mallocEnv, chartValues.deployment.mallocEnv, 'ENV MALLOC_* equals the chart\'s deployment.mallocEnv')
  t.equal(mallocEnv.MALLOC_ARENA_MAX, '2', 'two malloc arenas, not one per thread')
  t.equal(mallocEnv.MALLOC_MMAP_THRESHOLD_, '131072', 'a fixed mmap threshold: freed large buffers return to the system')
  t.equal(mallocEnv.MALLOC_TRIM_THRESHOLD_, '131072', 'a fixed trim threshold')

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

/**
 * RUN steps as the reproduction runs them: `npm ci` (the dependency install) is stood in for by the
 * repository's node_modules, made by the same `npm ci` from the same lockfile, after checking that
 * the files npm ci reads were copied in; every other step runs for real (sh, Node 24 first on PATH).
 */
function runStep(command: string, cwd: string): void {
  if (/^npm ci\b/.test(command)) {
    for (const f of ['package.json', 'package-lock.json']) if (!existsSync(join(cwd, f))) throw new Error(`RUN ${command}: ${f} was not copied in`)
    symlinkSync(join(ROOT, 'node_modules'), join(cwd, 'node_modules'))
    return
  }
  try {
    execFileSync('sh', ['-c', command], { cwd, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }, stdio: 'pipe' })
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer }
    throw new Error(`RUN ${command} failed:\n${String(err.stdout ?? '')}${String(err.stderr ?? '')}`)
  }
}

function reproduce(t: Test, df: Dockerfile, contextDir = ROOT): ReproducedStage[] {
  const workDir = mkdtempSync(join(tmpdir(), 'wa-dockerfile-'))
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }))
  return reproduceStages(df, { contextDir, workDir, run: runStep })
}

t.test('every stage builds from exactly the files its COPY lines bring in', async (t) => {
  const out = reproduce(t, { globalArgs, stages })
  const last = out.at(-1) as ReproducedStage
  const cmd = JSON.parse(final.body.filter((i) => i.op === 'CMD').at(-1)?.args ?? '[]') as string[]
  const script = join(last.root, last.workdir, cmd[0] ?? '')
  t.ok(existsSync(script), `the CMD's script ${cmd[0]} exists in the final stage (${last.workdir})`)
  t.ok(existsSync(join(last.root, last.workdir, 'node_modules')), 'node_modules in the final stage')
  t.ok(existsSync(join(last.root, last.workdir, 'package.json')), 'package.json in the final stage')
  const help = execFileSync(process.execPath, [script, '--help'], { cwd: join(last.root, last.workdir), encoding: 'utf8' })
  t.match(help, /serve/, 'the compiled CLI of the final stage runs (--help lists serve)')
})

t.test('the reproduction fails when a stage lacks a file its build needs', async (t) => {
  // The Dockerfile as it was before issue 12: the build stage ran `npm run build` without tsconfig.build.json.
  const broken = text.replace(/^(COPY tsconfig\.json) tsconfig\.build\.json( \.\/)$/m, '$1$2')
  t.not(broken, text, 'the fixture removes tsconfig.build.json from the build stage')
  t.throws(() => reproduce(t, parseDockerfile(broken)), /RUN npm run build failed:[\s\S]*tsconfig\.build\.json/)

  // The same file excluded by .dockerignore: the COPY itself fails, as in a real build.
  const ctx = mkdtempSync(join(tmpdir(), 'wa-context-'))
  t.teardown(() => rmSync(ctx, { recursive: true, force: true }))
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) cpSync(join(ROOT, f), join(ctx, f), { recursive: true })
  writeFileSync(join(ctx, '.dockerignore'), `${readFileSync(join(ROOT, '.dockerignore'), 'utf8')}tsconfig.build.json\n`)
  t.throws(() => reproduce(t, { globalArgs, stages }, ctx), /COPY tsconfig\.build\.json: not in the build context \(excluded by \.dockerignore\)/)
})
