/**
 * Looks inside small image layers for the files that name a Wasm runtime (spin.toml,
 * slightfile.toml, *.wasm). The tar format (ustar, GNU long names, PAX records) is read by
 * tar-stream; this file bounds the work: decompression stops at `maxDecompressedBytes` (a
 * gzip/zstd bomb stops there, what was read so far still counts), at most `maxEntries` entries
 * are listed, and only the first bytes of each file are kept.
 */
import { createGunzip } from 'node:zlib'
import * as zlib from 'node:zlib'
import { extract as tarExtract, type Header } from 'tar-stream'

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

const HEAD_BYTES = 8
const DEFAULT_MAX_ENTRIES = 10_000

/** tar-stream's type names back to the typeflag (what TarEntry.type carries). */
const TYPEFLAG: Record<string, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
}

function normalisePath(p: string): string {
  let s = p
  while (s.startsWith('./')) s = s.slice(2)
  while (s.startsWith('/')) s = s.slice(1)
  return s
}

function describeTarError(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e)
  // tar-stream throws this one exactly when a header's checksum does not match.
  if (msg.startsWith('Invalid tar header. Maybe the tar is corrupted')) return 'tar header checksum mismatch'
  return `tar: ${msg}`
}

/** Where a scan's input stopped early (set by the budgeted source, read after the scan). */
interface SourceEnd {
  note?: string
}

/**
 * Lists the entries of an uncompressed tar given as chunks (any chunking). Never rejects.
 * `end.note`, when the source sets it, explains an early end of the input and wins over the
 * tar error that an early end causes.
 */
async function scanChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, limits: TarScanLimits, end: SourceEnd = {}): Promise<TarPeekResult> {
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES
  const entries: TarEntry[] = []
  // allowUnknownFormat: v7 headers without the ustar magic are read too (tar-stream's types omit the option).
  const extract = tarExtract({ allowUnknownFormat: true } as Parameters<typeof tarExtract>[0])
  let stopped = false
  const feeding = (async (): Promise<void> => {
    try {
      for await (const chunk of source) {
        if (stopped) return
        if (!extract.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
          await new Promise<void>((resolve) => {
            extract.once('drain', resolve)
            extract.once('close', resolve)
          })
        }
      }
      if (!stopped) extract.end(undefined)
    } catch (e) {
      extract.destroy(e as Error)
    }
  })()
  let note: string | undefined
  try {
    for await (const entry of extract) {
      // tar-stream's type is null for typeflags it has no name for (its types omit the null).
      const h: Omit<Header, 'type'> & { type: Header['type'] | null } = entry.header
      const type = h.type ? (TYPEFLAG[h.type] ?? '') : ''
      const e: TarEntry = { path: normalisePath(h.name), type, size: h.size ?? 0 }
      entries.push(e)
      if (entries.length >= maxEntries) {
        note = `stopped after ${maxEntries} entries`
        break
      }
      const wantHead = (type === '0' || type === '7') && e.size > 0
      const head: Buffer[] = []
      let headLen = 0
      for await (const data of entry) {
        if (wantHead && headLen < HEAD_BYTES) {
          const b = data as Buffer
          head.push(b.subarray(0, HEAD_BYTES - headLen))
          headLen += Math.min(b.length, HEAD_BYTES - headLen)
        }
      }
      if (wantHead) e.head = new Uint8Array(Buffer.concat(head))
    }
  } catch (err) {
    note = describeTarError(err)
  } finally {
    stopped = true
    extract.destroy()
    await feeding
  }
  note = end.note ?? note
  return note !== undefined ? { entries, truncated: true, note } : { entries, truncated: false }
}

/** Scans a complete uncompressed tar. */
export function scanTar(tar: Uint8Array, limits: TarScanLimits = {}): Promise<TarPeekResult> {
  return scanChunks([tar], limits)
}

/** Scans an uncompressed tar that arrives in chunks (tests: any chunking gives the same result). */
export function scanTarChunks(chunks: Iterable<Uint8Array>, limits: TarScanLimits = {}): Promise<TarPeekResult> {
  return scanChunks(chunks, limits)
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
 * Decompressed chunks up to `budget` bytes in all; then the stream is destroyed (no more
 * inflating) and `end.note` says why the input stopped.
 */
async function* budgeted(stream: NodeJS.ReadWriteStream, budget: number, end: SourceEnd): AsyncGenerator<Uint8Array> {
  let total = 0
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const room = budget - total
      if (chunk.length > room) {
        if (room > 0) yield chunk.subarray(0, room)
        end.note = `decompressed size exceeds the ${budget} byte budget`
        return
      }
      total += chunk.length
      yield chunk
    }
  } catch (e) {
    end.note = `decompression failed: ${(e as Error).message}`
  } finally {
    ;(stream as unknown as { destroy?: () => void }).destroy?.()
  }
}

/**
 * Lists the entries of a layer blob (tar, tar+gzip, tar+zstd when Node supports it),
 * decompressing at most `maxDecompressedBytes`. Never rejects.
 */
export async function peekLayer(blob: Uint8Array, limits: PeekLimits): Promise<TarPeekResult> {
  const zstdFactory = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress
  let stream: NodeJS.ReadWriteStream
  if (isGzip(blob)) stream = createGunzip()
  else if (isZstd(blob)) {
    if (zstdFactory === undefined) return { entries: [], truncated: true, note: 'zstd layers are not supported by this Node' }
    stream = zstdFactory()
  } else {
    if (blob.length > limits.maxDecompressedBytes) {
      return scanChunks([blob.subarray(0, limits.maxDecompressedBytes)], limits, { note: `stopped after ${limits.maxDecompressedBytes} bytes` })
    }
    return scanChunks([blob], limits)
  }
  const end: SourceEnd = {}
  stream.end(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength))
  return scanChunks(budgeted(stream, limits.maxDecompressedBytes, end), limits, end)
}
