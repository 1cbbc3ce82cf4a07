// The runnable sample images' contents, checked without a node: the WASI modules run under Node's
// own WASI (a second, independent WASI preview1 host), the pause binary is started and stopped, and
// the layers are deterministic. That they run on the wasmtime shim is the real-node e2e's job.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WASI } from 'node:wasi'
import { gunzipSync } from 'node:zlib'

import t from 'tap'

import { HELLO_WASM_LINE, imagesCacheDir, LINUX_ENTRYPOINT, runnableLayer, TICKER_START_LINE, type RunnableName } from './runnable-images.js'

// tsconfig's lib (ES2023, no DOM) has no WebAssembly types: the few this test uses.
interface WasmMemory {
  buffer: ArrayBuffer
}
interface WasmInstance {
  exports: Record<string, unknown>
}
type WasmImports = Record<string, Record<string, unknown>>
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<object>
      instantiate(module: object, imports: WasmImports): Promise<WasmInstance>
      Module: { imports(module: object): Array<{ module: string; name: string }> }
    }
  }
).WebAssembly

interface TarEntry {
  path: string
  type: string
  mode: number
  linkname: string
  content: Buffer
}

function untar(tar: Uint8Array): TarEntry[] {
  const b = Buffer.from(tar)
  const out: TarEntry[] = []
  for (let off = 0; off + 512 <= b.length; ) {
    const h = b.subarray(off, off + 512)
    if (h.every((x) => x === 0)) break
    const str = (s: number, n: number): string => h.toString('utf8', s, s + n).replace(/\0.*$/s, '')
    const size = parseInt(str(124, 12), 8)
    out.push({ path: str(0, 100), type: str(156, 1), mode: parseInt(str(100, 8), 8), linkname: str(157, 100), content: b.subarray(off + 512, off + 512 + size) })
    off += 512 + Math.ceil(size / 512) * 512
  }
  return out
}

async function layerFiles(name: RunnableName): Promise<TarEntry[]> {
  const l = await runnableLayer(name)
  const tar = gunzipSync(l.gz)
  t.equal(l.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`, `${name}: diff_id is the sha256 of the uncompressed tar`)
  return untar(tar)
}

const fileOf = (entries: TarEntry[], path: string): TarEntry => {
  const e = entries.find((x) => x.path === path)
  if (e === undefined) throw new Error(`no ${path} in the layer (${entries.map((x) => x.path).join(', ')})`)
  return e
}

/** fd_write to stdout, collected as text; everything else from Node's WASI. */
function collectingWasi(overrides: Record<string, (...a: never[]) => number> = {}): { imports: WasmImports; out: () => string; bind: (m: WasmMemory) => void; wasi: WASI } {
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true })
  const real = (wasi.getImportObject() as WasmImports).wasi_snapshot_preview1
  let mem: WasmMemory | undefined
  let text = ''
  const fd_write = (fd: number, iovs: number, n: number, nwritten: number): number => {
    const v = new DataView(mem!.buffer)
    let total = 0
    for (let i = 0; i < n; i++) {
      const ptr = v.getUint32(iovs + i * 8, true)
      const len = v.getUint32(iovs + i * 8 + 4, true)
      if (fd === 1) text += Buffer.from(mem!.buffer, ptr, len).toString('utf8')
      total += len
    }
    v.setUint32(nwritten, total, true)
    return 0
  }
  return { imports: { wasi_snapshot_preview1: { ...real, fd_write, ...overrides } }, out: () => text, bind: (m) => (mem = m), wasi }
}

t.test('wasi-hello: one tar layer with /hello.wasm, which prints its line and returns', async (t) => {
  const files = await layerFiles('wasi-hello')
  t.same(files.map((f) => f.path), ['hello.wasm'])
  const mod = await Wasm.compile(fileOf(files, 'hello.wasm').content)
  t.same(Wasm.Module.imports(mod).map((i) => `${i.module}.${i.name}`), ['wasi_snapshot_preview1.fd_write'])
  const c = collectingWasi()
  const inst = await Wasm.instantiate(mod, c.imports)
  c.bind(inst.exports.memory as WasmMemory)
  t.equal(c.wasi.start(inst), 0, 'exit status 0')
  t.equal(c.out(), `${HELLO_WASM_LINE}\n`)
})

t.test('wasi-ticker: prints its start line, then "tick N" after each one-second clock poll, forever', async (t) => {
  const files = await layerFiles('wasi-ticker')
  t.same(files.map((f) => f.path), ['ticker.wasm'])
  const mod = await Wasm.compile(fileOf(files, 'ticker.wasm').content)
  const polls: Array<{ tag: number; clock: number; timeoutNs: bigint; flags: number; n: number }> = []
  const STOP = 123
  const c = collectingWasi({
    // Instead of sleeping: record the subscription, answer at once, and stop the endless loop after STOP polls.
    poll_oneoff: ((inPtr: number, outPtr: number, n: number, neventsPtr: number): number => {
      const v = new DataView(mem().buffer)
      polls.push({ tag: v.getUint8(inPtr + 8), clock: v.getUint32(inPtr + 16, true), timeoutNs: v.getBigUint64(inPtr + 24, true), flags: v.getUint16(inPtr + 40, true), n })
      if (polls.length > STOP) throw new Error('stop')
      v.setBigUint64(outPtr, v.getBigUint64(inPtr, true), true)
      v.setUint16(outPtr + 8, 0, true)
      v.setUint8(outPtr + 10, 0)
      v.setUint32(neventsPtr, 1, true)
      return 0
    }) as (...a: never[]) => number,
  })
  const inst = await Wasm.instantiate(mod, c.imports)
  const mem = (): WasmMemory => inst.exports.memory as WasmMemory
  c.bind(mem())
  t.throws(() => (inst.exports._start as () => void)(), /stop/, 'runs until stopped')
  const lines = c.out().trimEnd().split('\n')
  t.equal(lines[0], TICKER_START_LINE)
  t.same(lines.slice(1), Array.from({ length: STOP }, (_, i) => `tick ${i + 1}`), 'tick 1 .. tick 123, in decimal')
  t.same(polls[0], { tag: 0, clock: 1, timeoutNs: 1_000_000_000n, flags: 0, n: 1 }, 'one relative monotonic-clock subscription of 1 s')
  t.ok(polls.every((p) => p.timeoutNs === 1_000_000_000n))
})

t.test('pause: a static binary that waits and exits 0 on SIGTERM', async (t) => {
  const files = await layerFiles('pause')
  const f = fileOf(files, 'pause')
  t.equal(f.mode, 0o755)
  t.same([...f.content.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF file')
  const phoff = Number(f.content.readBigUInt64LE(0x20))
  const phentsize = f.content.readUInt16LE(0x36)
  const types = Array.from({ length: f.content.readUInt16LE(0x38) }, (_, i) => f.content.readUInt32LE(phoff + i * phentsize))
  t.ok(types.includes(1), 'has loadable segments')
  t.notOk(types.includes(3), 'no PT_INTERP program header: statically linked')
  const dir = await mkdtemp(join(tmpdir(), 'wa-pause-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'pause'), f.content, { mode: 0o755 })
  const child = spawn(join(dir, 'pause'), [], { stdio: 'ignore' })
  const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])))
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject))
  // Wait (poll with a deadline) until pause has installed its SIGTERM handler: /proc's SigCgt mask.
  const caught = (): boolean => {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n
  }
  for (const deadline = Date.now() + 10_000; !caught(); ) {
    if (Date.now() > deadline) throw new Error('pause did not install a SIGTERM handler within 10 s')
    await new Promise((r) => setTimeout(r, 10))
  }
  t.equal(child.exitCode, null, 'still running, SIGTERM caught')
  child.kill('SIGTERM')
  t.same(await exited, [0, null], 'exit 0 on SIGTERM')
})

t.test('linux: busybox with the applets the entrypoint uses', async (t) => {
  const files = await layerFiles('linux')
  const bb = fileOf(files, 'bin/busybox')
  t.equal(bb.mode, 0o755)
  t.equal(LINUX_ENTRYPOINT[0], '/bin/busybox')
  for (const applet of ['sh', 'sleep', 'echo']) t.equal(fileOf(files, `bin/${applet}`).linkname, 'busybox')
})

t.test('layers are cached by their inputs and identical when rebuilt', async (t) => {
  const first = await runnableLayer('wasi-hello')
  t.equal(await runnableLayer('wasi-hello'), first, 'memoised within a process')
  const dir = await mkdtemp(join(tmpdir(), 'wa-images-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  t.not(dir, imagesCacheDir())
  const rebuilt = await runnableLayer('wasi-hello', dir)
  t.equal(rebuilt.diffId, first.diffId, 'same tar')
  t.same(Buffer.from(rebuilt.gz), Buffer.from(first.gz), 'same gzip bytes: same layer digest')
  const cached = (await readdir(dir)).filter((n) => !n.startsWith('.'))
  t.match(cached, [/^wasi-hello-[0-9a-f]{16}$/], 'one cache entry, keyed by a hash of the inputs')
  t.same(Buffer.from(await readFile(join(dir, cached[0]!, 'layer.tar.gz'))), Buffer.from(first.gz))
})
