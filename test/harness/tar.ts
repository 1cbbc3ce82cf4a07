/** Deterministic ustar archives for test images (uid/gid 0, mtime 0). */

export interface TarFile {
  path: string
  content?: Uint8Array | string
  /** '0' file (default), '5' directory, '2' symlink */
  type?: '0' | '5' | '2'
  linkname?: string
  mode?: number
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0'
}

/** A ustar archive (GNU long names are not needed by the samples: paths stay < 100 bytes). */
export function buildTar(files: TarFile[]): Uint8Array {
  const blocks: Buffer[] = []
  for (const f of files) {
    const content = f.content === undefined ? Buffer.alloc(0) : Buffer.from(typeof f.content === 'string' ? Buffer.from(f.content) : f.content)
    const type = f.type ?? '0'
    const h = Buffer.alloc(512)
    if (Buffer.byteLength(f.path) > 100) throw new Error(`tar path too long: ${f.path}`)
    h.write(f.path, 0, 100, 'utf8')
    h.write(octal(f.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 'ascii')
    h.write(octal(0, 8), 108, 'ascii')
    h.write(octal(0, 8), 116, 'ascii')
    h.write(octal(type === '0' ? content.length : 0, 12), 124, 'ascii')
    h.write(octal(0, 12), 136, 'ascii')
    h.fill(0x20, 148, 156)
    h.write(type, 156, 'ascii')
    if (f.linkname) h.write(f.linkname, 157, 100, 'utf8')
    h.write('ustar\0', 257, 'ascii')
    h.write('00', 263, 'ascii')
    let sum = 0
    for (const b of h) sum += b
    h.write(octal(sum, 7) + ' ', 148, 'ascii')
    blocks.push(h)
    if (type === '0' && content.length > 0) {
      blocks.push(content)
      const pad = (512 - (content.length % 512)) % 512
      if (pad) blocks.push(Buffer.alloc(pad))
    }
  }
  blocks.push(Buffer.alloc(1024))
  return new Uint8Array(Buffer.concat(blocks))
}
