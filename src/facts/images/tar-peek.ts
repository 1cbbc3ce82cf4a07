/**
 * Looks inside small image layers for the files that name a Wasm runtime (spin.toml,
 * slightfile.toml, *.wasm). The tar reader is pure and incremental; decompression is
 * bounded (a gzip bomb stops at `maxDecompressedBytes`, what was read so far still counts).
 */
import { createGunzip } from 'node:zlib'
import * as zlib from 'node:zlib'

export interface TarEntry {
  /** Normalised path without leading `./` or `/`. */
  path: string
  /** '0' regular file, '5' directory, '2' symlink, ... (tar typeflag). */
  type: string
  size: number
  /** First bytes (up to 8) of a regular file's content, for magic checks (`\0asm`). */
  head?: Uint8Array
}

export interface TarPeekResult {
  entries: TarEntry[]
  /** True when the scan stopped early (budget, entry cap, malformed or unsupported data). */
  truncated: boolean
  /** Why it stopped early, for evidence. */
  note?: string
}

export interface TarScanLimits {
  maxEntries?: number
}

const BLOCK = 512
const HEAD_BYTES = 8
const DEFAULT_MAX_ENTRIES = 10_000

function cstr(b: Uint8Array, start: number, len: number): string {
  let end = start
  const stop = start + len
  while (end < stop && b[end] !== 0) end++
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8')
}

function parseOctal(b: Uint8Array, start: number, len: number): number {
  // base-256 (GNU) when the high bit of the first byte is set
  if ((b[start]! & 0x80) !== 0) {
    let v = b[start]! & 0x7f
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i]!
    return v
  }
  const s = cstr(b, start, len).trim()
  if (s === '') return 0
  const v = parseInt(s, 8)
  return Number.isFinite(v) ? v : NaN
}

function checksumOk(h: Uint8Array): boolean {
  const want = parseOctal(h, 148, 8)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!
  return sum === want
}

function normalisePath(p: string): string {
  let s = p
  while (s.startsWith('./')) s = s.slice(2)
  while (s.startsWith('/')) s = s.slice(1)
  return s
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {}
  const text = Buffer.from(data).toString('utf8')
  let i = 0
  while (i < text.length) {
    const sp = text.indexOf(' ', i)
    if (sp < 0) break
    const len = parseInt(text.slice(i, sp), 10)
    if (!Number.isFinite(len) || len <= 0) break
    const rec = text.slice(sp + 1, i + len - 1)
    const eq = rec.indexOf('=')
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1)
    i += len
  }
  return out
}

/**
 * Incremental tar reader: push() decompressed bytes in any chunking; entries accumulate.
 * Only headers and the first bytes of each file are kept, so memory stays small.
 */
export class TarScanner {
  readonly entries: TarEntry[] = []
  done = false
  error: string | undefined
  private buf: Uint8Array = new Uint8Array(0)
  /** Bytes of the current entry's data (padded) still to skip. */
  private skip = 0
  /** Bytes of the current entry's data still to collect (PAX / GNU long name / head). */
  private collect: { kind: 'pax' | 'longname' | 'head'; need: number; got: Uint8Array[]; gotLen: number; entry?: TarEntry } | undefined
  private pendingPath: string | undefined
  private pendingPax: Record<string, string> | undefined
  private zeroBlocks = 0
  private readonly maxEntries: number

  constructor(limits: TarScanLimits = {}) {
    this.maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES
  }

  push(chunk: Uint8Array): void {
    if (this.done) return
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    let off = 0
    while (!this.done) {
      if (this.collect !== undefined) {
        const c = this.collect
        const take = Math.min(c.need - c.gotLen, this.buf.length - off)
        if (take > 0) {
          c.got.push(this.buf.subarray(off, off + take))
          c.gotLen += take
          off += take
        }
        if (c.gotLen < c.need) break
        this.collect = undefined
        const data = Buffer.concat(c.got)
        if (c.kind === 'pax') this.pendingPax = { ...(this.pendingPax ?? {}), ...parsePax(data) }
        else if (c.kind === 'longname') this.pendingPath = cstr(data, 0, data.length)
        else if (c.entry !== undefined) c.entry.head = new Uint8Array(data)
        continue
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, this.buf.length - off)
        off += take
        this.skip -= take
        if (this.skip > 0) break
        continue
      }
      if (this.buf.length - off < BLOCK) break
      const h = this.buf.subarray(off, off + BLOCK)
      off += BLOCK
      if (h.every((x) => x === 0)) {
        this.zeroBlocks++
        if (this.zeroBlocks >= 2) this.done = true
        continue
      }
      this.zeroBlocks = 0
      if (!checksumOk(h)) {
        this.error = 'tar header checksum mismatch'
        this.done = true
        break
      }
      const size = parseOctal(h, 124, 12)
      if (!Number.isFinite(size) || size < 0) {
        this.error = 'tar header has an invalid size'
        this.done = true
        break
      }
      const type = String.fromCharCode(h[156]! || 0x30)
      const padded = Math.ceil(size / BLOCK) * BLOCK
      if (type === 'x' || type === 'g' || type === 'L') {
        if (type === 'g' || size > 1 << 20) {
          this.skip = padded
          continue
        }
        this.collect = { kind: type === 'x' ? 'pax' : 'longname', need: size, got: [], gotLen: 0 }
        this.skip = padded - size
        continue
      }
      const magic = cstr(h, 257, 6)
      const prefix = magic.startsWith('ustar') ? cstr(h, 345, 155) : ''
      let path = cstr(h, 0, 100)
      if (prefix !== '') path = `${prefix}/${path}`
      if (this.pendingPath !== undefined) path = this.pendingPath
      if (this.pendingPax?.path !== undefined) path = this.pendingPax.path
      let realSize = size
      const paxSize = this.pendingPax?.size
      if (paxSize !== undefined && /^\d+$/.test(paxSize)) realSize = Number(paxSize)
      this.pendingPath = undefined
      this.pendingPax = undefined
      const entry: TarEntry = { path: normalisePath(path), type, size: realSize }
      this.entries.push(entry)
      if (this.entries.length >= this.maxEntries) {
        this.error = `stopped after ${this.maxEntries} entries`
        this.done = true
        break
      }
      const dataLen = type === '0' || type === '\0' || type === '7' ? realSize : type === '5' || type === '2' || type === '1' ? 0 : realSize
      const dataPadded = Math.ceil(dataLen / BLOCK) * BLOCK
      if ((type === '0' || type === '7') && dataLen > 0) {
        const need = Math.min(HEAD_BYTES, dataLen)
        this.collect = { kind: 'head', need, got: [], gotLen: 0, entry }
        this.skip = dataPadded - need
      } else {
        this.skip = dataPadded
      }
    }
    this.buf = off >= this.buf.length ? new Uint8Array(0) : this.buf.subarray(off)
  }
}

/** Pure: scan a complete (uncompressed) tar. */
export function scanTar(tar: Uint8Array, limits: TarScanLimits = {}): TarPeekResult {
  const s = new TarScanner(limits)
  s.push(tar)
  const truncated = s.error !== undefined
  return s.error !== undefined ? { entries: s.entries, truncated, note: s.error } : { entries: s.entries, truncated }
}

export interface PeekLimits extends TarScanLimits {
  /** Stop decompressing after this many bytes (gzip/zstd bomb guard). */
  maxDecompressedBytes: number
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b
}
function isZstd(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd
}

/**
 * Lists the entries of a layer blob (tar, tar+gzip, tar+zstd when Node supports it),
 * decompressing at most `maxDecompressedBytes`. Never rejects.
 */
export async function peekLayer(blob: Uint8Array, limits: PeekLimits): Promise<TarPeekResult> {
  const scanner = new TarScanner(limits)
  const finish = (note?: string): TarPeekResult => {
    const n = note ?? scanner.error
    const truncated = n !== undefined
    return n !== undefined ? { entries: scanner.entries, truncated, note: n } : { entries: scanner.entries, truncated }
  }
  const zstdFactory = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress
  let stream: NodeJS.ReadWriteStream
  if (isGzip(blob)) stream = createGunzip()
  else if (isZstd(blob)) {
    if (zstdFactory === undefined) return finish('zstd layers are not supported by this Node')
    stream = zstdFactory()
  } else {
    if (blob.length > limits.maxDecompressedBytes) {
      scanner.push(blob.subarray(0, limits.maxDecompressedBytes))
      return finish(scanner.error ?? `stopped after ${limits.maxDecompressedBytes} bytes`)
    }
    scanner.push(blob)
    return finish()
  }
  return await new Promise<TarPeekResult>((resolve) => {
    let total = 0
    let settled = false
    const settle = (note?: string): void => {
      if (settled) return
      settled = true
      ;(stream as unknown as { destroy?: () => void }).destroy?.()
      resolve(finish(note))
    }
    stream.on('data', (chunk: Buffer) => {
      if (settled) return
      const room = limits.maxDecompressedBytes - total
      if (chunk.length > room) {
        scanner.push(chunk.subarray(0, room))
        settle(scanner.error ?? `decompressed size exceeds the ${limits.maxDecompressedBytes} byte budget`)
        return
      }
      total += chunk.length
      scanner.push(chunk)
      if (scanner.done) settle()
    })
    stream.on('error', (e: Error) => settle(`decompression failed: ${e.message}`))
    stream.on('end', () => settle())
    stream.end(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength))
  })
}
