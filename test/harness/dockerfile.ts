/**
 * The project's Dockerfile read the way a container engine reads it, without an engine:
 * instructions (backslash continuations joined, comments dropped), stages split at FROM, the build
 * context as filtered by .dockerignore, and a reproduction of each stage's file system in a temp
 * directory from its COPY lines, running its RUN steps there. Used by test/dockerfile.test.ts (static
 * checks that can fail on a missing COPY) and test/harness/image.ts (the cache key of the real build).
 */
import { createHash } from 'node:crypto'
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, matchesGlob, posix, relative } from 'node:path'

export interface Instruction {
  op: string
  args: string
}

export interface Stage {
  /** Image or earlier stage named in FROM, unexpanded (e.g. `${NODE_IMAGE}`). */
  from: string
  name: string | undefined
  body: Instruction[]
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>
  stages: Stage[]
}

export function instructions(src: string): Instruction[] {
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

export function parseDockerfile(src: string): Dockerfile {
  const all = instructions(src)
  const globalArgs = new Map<string, string>()
  for (const i of all) {
    if (i.op === 'FROM') break
    if (i.op === 'ARG') {
      const [k, v] = i.args.split('=', 2)
      if (k && v !== undefined) globalArgs.set(k.trim(), v.trim())
    }
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
  return { globalArgs, stages }
}

export interface CopyInstruction {
  /** `--from=` stage name (or index), undefined when copying from the build context. */
  from: string | undefined
  sources: string[]
  dest: string
}

/** COPY/ADD arguments: `--flag=value` options, then sources and the destination (shell or JSON form). */
export function parseCopy(args: string): CopyInstruction {
  let rest = args.trim()
  let from: string | undefined
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)
    if (m === null) break
    if (m[1] === 'from') from = m[2]
    rest = rest.slice(m[0].length)
  }
  const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/)
  if (words.length < 2) throw new Error(`COPY ${args}: needs a source and a destination`)
  return { from, sources: words.slice(0, -1), dest: words.at(-1) as string }
}

/** .dockerignore patterns (comments and blank lines dropped, leading `/` and `./` removed). */
export function readDockerignore(contextDir: string): string[] {
  const file = join(contextDir, '.dockerignore')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.startsWith('!') ? '!' : '') + posix.normalize(l.replace(/^!/, '')).replace(/^(\.\/|\/)+/, ''))
}

/**
 * Is a context path (relative, `/`-separated) excluded? As the engines do: the last matching pattern
 * wins (`!` re-includes), and a path is excluded when it or one of its parent directories matches.
 */
export function isIgnored(rel: string, patterns: string[]): boolean {
  const parts = rel.split('/')
  let ignored = false
  for (const p of patterns) {
    const negate = p.startsWith('!')
    const pat = negate ? p.slice(1) : p
    for (let n = 1; n <= parts.length; n++) {
      if (matchesGlob(parts.slice(0, n).join('/'), pat)) {
        ignored = !negate
        break
      }
    }
  }
  return ignored
}

/** Every file of the build context as the engine sends it (relative paths, sorted). */
export function contextFiles(contextDir: string, patterns = readDockerignore(contextDir)): string[] {
  const out: string[] = []
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(contextDir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (isIgnored(r, patterns)) continue
      if (e.isDirectory()) walk(r)
      else out.push(r)
    }
  }
  walk('')
  return out.sort()
}

/** sha256 over the context's file names and contents: changes exactly when the build input changes. */
export function contextDigest(contextDir: string): string {
  const h = createHash('sha256')
  for (const f of contextFiles(contextDir)) {
    h.update(`${f}\0`)
    h.update(lstatSync(join(contextDir, f)).isSymbolicLink() ? 'symlink' : readFileSync(join(contextDir, f)))
    h.update('\0')
  }
  return h.digest('hex')
}

export interface ReproduceOptions {
  contextDir: string
  /** Where the stages' root file systems are made (one sub-directory per stage). */
  workDir: string
  /** Runs one RUN step with `cwd` = the stage's WORKDIR mapped into its root; throws on failure. */
  run(command: string, cwd: string, stage: Stage): void
}

export interface ReproducedStage {
  stage: Stage
  /** The stage's root file system. */
  root: string
  /** WORKDIR at the end of the stage (a path inside the image). */
  workdir: string
}

/**
 * Reproduces every stage's file set from its COPY lines (context files filtered by .dockerignore,
 * `--from` files from the earlier stage's reproduction) and runs its RUN steps in it. Base image
 * contents are not reproduced: a step sees only what the Dockerfile copies in, which is exactly what
 * a missing COPY line breaks. Throws when a COPY source does not exist in the context (or is ignored)
 * or a RUN step fails.
 */
export function reproduceStages(df: Dockerfile, opts: ReproduceOptions): ReproducedStage[] {
  const patterns = readDockerignore(opts.contextDir)
  const done: ReproducedStage[] = []
  df.stages.forEach((stage, index) => {
    const root = join(opts.workDir, `stage-${index}`)
    mkdirSync(root, { recursive: true })
    const base = done.find((d) => d.stage.name !== undefined && d.stage.name === stage.from)
    if (base !== undefined) cpSync(base.root, root, { recursive: true, verbatimSymlinks: true })
    let workdir = base?.workdir ?? '/'
    const inRoot = (imagePath: string): string => join(root, posix.resolve(workdir, imagePath))
    for (const i of stage.body) {
      if (i.op === 'WORKDIR') {
        workdir = posix.resolve(workdir, i.args.trim())
        mkdirSync(inRoot('.'), { recursive: true })
      } else if (i.op === 'COPY' || i.op === 'ADD') {
        const c = parseCopy(i.args)
        const src = c.from === undefined ? undefined : done.find((d) => d.stage.name === c.from || String(done.indexOf(d)) === c.from)
        if (c.from !== undefined && src === undefined) throw new Error(`COPY --from=${c.from}: no earlier stage of that name`)
        const destDir = c.dest.endsWith('/') || c.sources.length > 1
        for (const s of c.sources) {
          let from: string
          if (src === undefined) {
            const rel = posix.normalize(s).replace(/^(\.\/|\/)+/, '')
            from = join(opts.contextDir, rel)
            if (!existsSync(from) || isIgnored(rel, patterns)) throw new Error(`COPY ${s}: not in the build context${existsSync(from) ? ' (excluded by .dockerignore)' : ''}`)
          } else {
            from = join(src.root, posix.resolve(src.workdir, s))
            if (!existsSync(from)) throw new Error(`COPY --from=${c.from} ${s}: not produced by stage ${c.from}`)
          }
          const to = statSync(from).isDirectory() || !destDir ? inRoot(c.dest) : join(inRoot(c.dest), basename(s))
          mkdirSync(dirname(to), { recursive: true })
          const contextRoot = opts.contextDir
          cpSync(from, to, {
            recursive: true,
            verbatimSymlinks: true,
            filter: src !== undefined ? undefined : (p: string) => !isIgnored(relative(contextRoot, p).split('\\').join('/'), patterns),
          })
        }
      } else if (i.op === 'RUN') {
        opts.run(i.args, inRoot('.'), stage)
      }
    }
    done.push({ stage, root, workdir })
  })
  return done
}

// `node test/harness/dockerfile.ts context-digest DIR` prints contextDigest(DIR) (scripts/build-image.sh's cache key).
if (import.meta.main && process.argv[2] === 'context-digest') console.log(contextDigest(process.argv[3] ?? '.'))
