import t from 'tap'
import { gzipSync } from 'node:zlib'
import { peekLayer, scanTar, scanTarChunks } from '../../../src/facts/images/tar-peek.js'
import { buildTar, WASM_MODULE } from '../../harness/sample-images.js'

const tar = buildTar([
  { path: './', type: '5' },
  { path: './spin.toml', content: 'spin_manifest_version = 2\n' },
  { path: 'dir/', type: '5' },
  { path: 'dir/app.wasm', content: WASM_MODULE },
  { path: 'link', type: '2', linkname: 'dir/app.wasm' },
  { path: 'big.bin', content: new Uint8Array(5000) },
])

t.test('scanTar lists entries with normalised paths and heads', async (t) => {
  const r = await scanTar(tar)
  t.equal(r.truncated, false)
  t.same(r.entries.map((e) => [e.path, e.type]), [['', '5'], ['spin.toml', '0'], ['dir/', '5'], ['dir/app.wasm', '0'], ['link', '2'], ['big.bin', '0']])
  t.same([...(r.entries[3]!.head ?? [])], [...WASM_MODULE])
  t.equal(r.entries[5]!.size, 5000)
})

t.test('scanTarChunks gives the same result for any chunking', async (t) => {
  const whole = (await scanTar(tar)).entries.map((e) => e.path)
  for (const size of [1, 7, 511, 512, 513, 4096]) {
    const chunks: Uint8Array[] = []
    for (let i = 0; i < tar.length; i += size) chunks.push(tar.subarray(i, i + size))
    const r = await scanTarChunks(chunks)
    t.same(r.entries.map((e) => e.path), whole, `chunk ${size}`)
    t.equal(r.truncated, false)
  }
})

t.test('PAX and GNU long names', async (t) => {
  const long = `${'d'.repeat(120)}/spin.toml`
  // a PAX record's length includes its own digits
  const rec = (k: string, v: string): string => {
    let len = k.length + v.length + 3
    for (;;) {
      const s = `${len} ${k}=${v}\n`
      if (Buffer.byteLength(s) === len) return s
      len = Buffer.byteLength(s)
    }
  }
  const pax = buildTar([{ path: 'PaxHeader', content: rec('path', long) }]).subarray(0, 1024)
  pax[156] = 'x'.charCodeAt(0)
  // recompute checksum
  const fix = (h: Uint8Array): void => {
    h.fill(0x20, 148, 156)
    let sum = 0
    for (let i = 0; i < 512; i++) sum += h[i]!
    Buffer.from(h.buffer, h.byteOffset).write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  }
  fix(pax.subarray(0, 512))
  const file = buildTar([{ path: 'short', content: 'x' }])
  const all = Buffer.concat([pax, file])
  const r = await scanTar(all)
  t.equal(r.entries[0]?.path, long)
})

t.test('corrupt header stops with a note', async (t) => {
  const bad = new Uint8Array(tar)
  bad[10] = bad[10]! ^ 0xff
  const r = await scanTar(bad)
  t.equal(r.truncated, true)
  t.match(r.note, /checksum/)
})

t.test('entry cap', async (t) => {
  const r = await scanTar(tar, { maxEntries: 2 })
  t.equal(r.entries.length, 2)
  t.equal(r.truncated, true)
})

t.test('peekLayer: gzip', async (t) => {
  const r = await peekLayer(gzipSync(tar), { maxDecompressedBytes: 1 << 20 })
  t.equal(r.truncated, false)
  t.ok(r.entries.some((e) => e.path === 'spin.toml'))
})

t.test('peekLayer: uncompressed tar', async (t) => {
  const r = await peekLayer(tar, { maxDecompressedBytes: 1 << 20 })
  t.ok(r.entries.some((e) => e.path === 'dir/app.wasm'))
})

t.test('peekLayer: gzip bomb stops at the budget and keeps what it read', async (t) => {
  // spin.toml first, then 64 MiB of zeros inside one file: compresses to ~64 KiB
  const header = buildTar([{ path: 'spin.toml', content: 'x' }]).subarray(0, 1024)
  const bombHeader = buildTar([{ path: 'zeros', content: new Uint8Array(1) }]).subarray(0, 512)
  const size = 64 * 1024 * 1024
  const h = new Uint8Array(bombHeader)
  Buffer.from(h.buffer).write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii')
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  Buffer.from(h.buffer).write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  const gz = gzipSync(Buffer.concat([header, h, Buffer.alloc(size)]))
  t.ok(gz.length < 1 << 20, `bomb is small compressed (${gz.length} bytes)`)
  const r = await peekLayer(gz, { maxDecompressedBytes: 1 << 20 })
  t.equal(r.truncated, true)
  t.match(r.note, /budget/)
  t.same(r.entries.map((e) => e.path), ['spin.toml', 'zeros'])
})

t.test('peekLayer: garbage gzip', async (t) => {
  const r = await peekLayer(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]), { maxDecompressedBytes: 1 << 20 })
  t.equal(r.truncated, true)
  t.match(r.note, /decompression failed/)
})

t.test('PAX: a non-ASCII path record does not drop the records after it, nor the entries after it', async (t) => {
  // A PAX record's length counts BYTES, including its own digits; 'ü', 'ï', 'é' are 2 bytes and '名前' 6 in UTF-8.
  const rec = (k: string, v: string): string => {
    let len = Buffer.byteLength(`${k}=${v}\n`) + 2
    for (;;) {
      const s = `${len} ${k}=${v}\n`
      if (Buffer.byteLength(s) === len) return s
      len = Buffer.byteLength(s)
    }
  }
  const header = (name: string, type: string, size: number): Buffer => {
    const h = Buffer.alloc(512)
    h.write(name, 0, 100, 'utf8')
    h.write('0000644\0', 100, 'ascii')
    h.write('0000000\0', 108, 'ascii')
    h.write('0000000\0', 116, 'ascii')
    h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii')
    h.write('00000000000\0', 136, 'ascii')
    h.fill(0x20, 148, 156)
    h.write(type, 156, 'ascii')
    h.write('ustar\0', 257, 'ascii')
    h.write('00', 263, 'ascii')
    let sum = 0
    for (const b of h) sum += b
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
    return h
  }
  const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)])
  const path = 'docs/ünïcödé-名前.txt'
  const content = Buffer.from('hello, world: longer than the header says\n')
  // POSIX pax: a `size` record overrides the ustar size field (here 0, as for files over 8 GiB).
  const pax = Buffer.from(rec('path', path) + rec('size', String(content.length)) + rec('mtime', '0'))
  const archive = Buffer.concat([
    header('PaxHeaders/x', 'x', pax.length),
    padded(pax),
    header('docs/placeholder.txt', '0', 0),
    padded(content),
    Buffer.from(buildTar([{ path: 'spin.toml', content: 'spin_manifest_version = 2\n' }, { path: 'app.wasm', content: WASM_MODULE }])),
  ])
  for (const [name, blob] of [
    ['tar', new Uint8Array(archive)],
    ['tar+gzip', new Uint8Array(gzipSync(archive))],
  ] as const) {
    const r = await peekLayer(blob, { maxDecompressedBytes: 1 << 20 })
    t.equal(r.truncated, false, `${name}: read to the end (${r.note ?? 'no note'})`)
    t.same(
      r.entries.map((e) => [e.path, e.size]),
      [
        [path, content.length],
        ['spin.toml', 26],
        ['app.wasm', WASM_MODULE.length],
      ],
      `${name}: the non-ASCII path exactly, its PAX size, then the entries after it`,
    )
    t.same([...(r.entries[2]?.head ?? [])].slice(0, 4), [0x00, 0x61, 0x73, 0x6d], `${name}: the .wasm head after it`)
  }
})
