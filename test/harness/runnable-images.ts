/**
 * The bytes of the sample images that really run on the harness's worker nodes, built at test set-up
 * from sources in test/harness/images/ with Debian tools (scripts/install-system-deps.sh):
 *
 *   wasi-hello   hello.wat  -> wat2wasm: a WASI preview1 command module; prints HELLO_WASM_LINE, exits 0
 *   wasi-ticker  ticker.wat -> wat2wasm: prints TICKER_START_LINE, then "tick N" about once a second,
 *                forever (a WASI clock subscription through poll_oneoff): the Deployment workload
 *   pause        pause.c    -> gcc -static: the pod sandbox image; waits for SIGTERM, reaps children
 *   linux        /bin/busybox from busybox-static: prints HELLO_LINUX_LINE, then sleeps
 *
 * Each image is one tar layer. Its gzip is cached in
 * ${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/sample-images/<name>-<hash>/layer.tar.gz, the hash
 * covering the source, the tool's version and the layout below, so a warm run reads one file.
 * tar and gzip are deterministic (mtime 0), so the digests only move when a source does.
 *
 * Packaging of the Wasm images (what both wasm-admission's classifier and the wasmtime shim accept):
 * an OCI manifest, config `os: wasip1, architecture: wasm` with `Entrypoint: ["/<name>.wasm"]`, one
 * tar+gzip layer holding the module at the root. The classifier calls it generic WASI (a Wasm
 * platform, a .wasm entrypoint); containerd unpacks the layer into the rootfs and the shim runs
 * the entrypoint file (runwasi reads Wasm *layers* only for its own layer media types, so a tar
 * layer means "the file in the rootfs"). The same layout with config `linux/amd64` also runs on the
 * shim but is classified Linux (no Wasm evidence), so it is not used.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

import { buildTar, type TarFile } from './tar.js'

export const IMAGE_SOURCES = join(import.meta.dirname, 'images')

/** What `wasi-hello` prints (one line). */
export const HELLO_WASM_LINE = 'hello from wasm: a WASI preview1 module'
/** The first line `wasi-ticker` prints; then `tick 1`, `tick 2`, ... */
export const TICKER_START_LINE = 'ticker started: one tick per second'
/** The first line the runnable `linux` image prints before it sleeps. */
export const HELLO_LINUX_LINE = 'hello from linux'
/** Entrypoint of the runnable `linux` image. */
export const LINUX_ENTRYPOINT = ['/bin/busybox', 'sh', '-c', `echo ${HELLO_LINUX_LINE}; exec sleep 3600`]

export type RunnableName = 'wasi-hello' | 'wasi-ticker' | 'pause' | 'linux'

export interface RunnableLayer {
  /** gzip of the tar: the layer blob. */
  gz: Uint8Array
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string
}

const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')

// Synchronous on purpose: milliseconds for wat2wasm, about a second for gcc, and only on a cold cache.
function toolVersion(cmd: 'wat2wasm' | 'gcc'): string {
  try {
    const stdout = cmd === 'wat2wasm' ? execFileSync('wat2wasm', ['--version'], { encoding: 'utf8' }) : execFileSync('gcc', ['--version'], { encoding: 'utf8' })
    return stdout.split('\n')[0]!.trim()
  } catch (e) {
    throw new Error(`${cmd} is needed to build the runnable sample images (scripts/install-system-deps.sh installs it): ${(e as Error).message}`)
  }
}

interface Recipe {
  /** Inputs that decide the layer's bytes (hashed for the cache key). */
  key: () => Promise<string[]>
  /** The files of the layer, built in `work` (a scratch directory). */
  files: (work: string) => Promise<TarFile[]>
}

const wat = (name: string): Recipe => ({
  key: async () => [await readFile(join(IMAGE_SOURCES, `${name}.wat`), 'utf8'), toolVersion('wat2wasm')],
  files: async (work) => {
    const out = join(work, `${name}.wasm`)
    execFileSync('wat2wasm', [join(IMAGE_SOURCES, `${name}.wat`), '-o', out])
    return [{ path: `${name}.wasm`, content: await readFile(out) }]
  },
})

const RECIPES: Record<RunnableName, Recipe> = {
  'wasi-hello': wat('hello'),
  'wasi-ticker': wat('ticker'),
  pause: {
    key: async () => [await readFile(join(IMAGE_SOURCES, 'pause.c'), 'utf8'), toolVersion('gcc'), 'gcc -static -Os -s'],
    files: async (work) => {
      const out = join(work, 'pause')
      execFileSync('gcc', ['-static', '-Os', '-s', '-o', out, join(IMAGE_SOURCES, 'pause.c')])
      return [{ path: 'pause', content: await readFile(out), mode: 0o755 }]
    },
  },
  linux: {
    key: async () => [sha256Hex(await busybox())],
    files: async () => [
      { path: 'bin/', type: '5' },
      { path: 'bin/busybox', content: await busybox(), mode: 0o755 },
      ...['sh', 'echo', 'sleep', 'cat', 'ls'].map((n): TarFile => ({ path: `bin/${n}`, type: '2', linkname: 'busybox', mode: 0o777 })),
      { path: 'tmp/', type: '5', mode: 0o1777 },
    ],
  },
}

async function busybox(): Promise<Buffer> {
  try {
    return await readFile('/bin/busybox')
  } catch (e) {
    throw new Error(`/bin/busybox (Debian busybox-static, scripts/install-system-deps.sh) is needed for the runnable linux sample: ${(e as Error).message}`)
  }
}

/** Bump when the layout of a layer (paths, modes, tar format) changes without its source changing. */
const LAYOUT_VERSION = '1'

export function imagesCacheDir(): string {
  return join(process.env.WASM_ADMISSION_CACHE || join(homedir(), '.cache', 'wasm-admission'), 'sample-images')
}

const memo = new Map<string, Promise<RunnableLayer>>()

/** The layer of a runnable image: from the cache directory, or built (and cached there) now. */
export function runnableLayer(name: RunnableName, cacheDir: string = imagesCacheDir()): Promise<RunnableLayer> {
  const k = `${cacheDir}\0${name}`
  let p = memo.get(k)
  if (p === undefined) {
    p = buildLayer(name, cacheDir)
    memo.set(k, p)
    p.catch(() => memo.delete(k))
  }
  return p
}

async function buildLayer(name: RunnableName, root: string): Promise<RunnableLayer> {
  const recipe = RECIPES[name]
  const hash = sha256Hex(JSON.stringify([LAYOUT_VERSION, name, ...(await recipe.key())])).slice(0, 16)
  const dir = join(root, `${name}-${hash}`)
  try {
    const gz = new Uint8Array(await readFile(join(dir, 'layer.tar.gz')))
    const diffId = (await readFile(join(dir, 'diff-id'), 'utf8')).trim()
    return { gz, diffId }
  } catch {
    // not cached yet
  }
  await mkdir(root, { recursive: true })
  const work = await mkdtemp(join(root, `.build-${name}-`))
  try {
    const tar = buildTar(await recipe.files(work))
    const gz = new Uint8Array(gzipSync(tar))
    const diffId = `sha256:${sha256Hex(tar)}`
    const out = join(work, 'out')
    await mkdir(out)
    await writeFile(join(out, 'layer.tar.gz'), gz)
    await writeFile(join(out, 'diff-id'), `${diffId}\n`)
    try {
      await rename(out, dir)
    } catch {
      // a parallel build got there first: same inputs, same bytes
    }
    return { gz, diffId }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
