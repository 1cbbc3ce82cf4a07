import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { createSecureContext as tlsContext } from 'node:tls'
import { DirectoryWatch } from '../util/file-watch.js'
import type { Readiness } from '../domain/readiness.js'
import { WasmAdmissionError } from '../errors.js'

export interface KeyPair {
  cert: string
  key: string
  notAfter: Date
  fingerprint: string
}

export interface CertificateSourceOptions {
  /** Directory holding tls.crt and tls.key (a mounted Secret). */
  dir: string
  pollIntervalMs: number
  onRotated?: (pair: KeyPair) => void
  onError?: (error: WasmAdmissionError) => void
}

/**
 * Serving certificate read from files and re-read when they change. The kubelet swaps mounted
 * Secrets through a symlink, so the directory is watched and polled; a half-written or mismatched
 * pair is ignored until the next tick, and the pair in use stays.
 */
export class CertificateSource {
  private pair: KeyPair | undefined
  private watcher: DirectoryWatch | undefined
  private readonly listeners: Array<(pair: KeyPair) => void> = []
  private lastError: string | undefined

  constructor(private readonly opts: CertificateSourceOptions) {}

  /** Reads the pair now. Returns true when a new, valid pair was installed. */
  refresh(): boolean {
    let pair: KeyPair
    try {
      const cert = readFileSync(join(this.opts.dir, 'tls.crt'), 'utf8')
      const key = readFileSync(join(this.opts.dir, 'tls.key'), 'utf8')
      if (this.pair && cert === this.pair.cert && key === this.pair.key) return false
      tlsContext({ cert, key }) // throws when the key does not match the certificate
      const x509 = new X509Certificate(cert)
      pair = { cert, key, notAfter: new Date(x509.validTo), fingerprint: x509.fingerprint256 }
    } catch (e) {
      const error = new WasmAdmissionError('WA_ERR_TLS_LOAD', [this.opts.dir, (e as Error).message], { cause: e })
      if (error.message !== this.lastError) this.opts.onError?.(error)
      this.lastError = error.message
      return false
    }
    this.lastError = undefined
    this.pair = pair
    for (const l of this.listeners) l(pair)
    this.opts.onRotated?.(pair)
    return true
  }

  current(): KeyPair | undefined {
    return this.pair
  }

  /** Called with every new pair after the first (e.g. to call server.setSecureContext). */
  onChange(listener: (pair: KeyPair) => void): void {
    this.listeners.push(listener)
  }

  start(): void {
    this.refresh()
    this.watcher = new DirectoryWatch({ dir: this.opts.dir, pollIntervalMs: this.opts.pollIntervalMs, onTick: () => this.refresh() })
    this.watcher.start()
  }

  readiness(): Readiness {
    if (!this.pair) return { ready: false, detail: `no valid key pair in ${this.opts.dir}${this.lastError ? `: ${this.lastError}` : ''}` }
    return { ready: true, detail: `certificate ${this.pair.fingerprint.slice(0, 23)}… valid until ${this.pair.notAfter.toISOString()}` }
  }

  close(): void {
    this.watcher?.close()
  }
}

