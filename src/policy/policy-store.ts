import { readFileSync } from 'node:fs'
import { defaultPolicy } from './defaults.js'
import { parsePolicy } from './load.js'
import type { Policy } from '../domain/policy.js'
import { DirectoryWatch, dirOf } from '../util/file-watch.js'
import { WasmAdmissionError } from '../errors.js'
import type { Readiness } from '../domain/readiness.js'

export interface PolicyStoreEvents {
  onLoaded?: (source: string) => void
  /** A new file was rejected; the previous policy stays in force. */
  onRejected?: (error: WasmAdmissionError) => void
}

/**
 * Freezes a policy and everything in it: a policy in force is never changed in place (a reload
 * installs a new object), and decide() remembers answers per frozen policy object (src/policy/decide.ts).
 */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/**
 * Holds the policy in force (deeply frozen). With a file, it is loaded at start (an invalid file is fatal then)
 * and reloaded on change; a bad new file keeps the old policy and is reported.
 */
export class PolicyStore {
  private policy: Policy
  private lastText: string | undefined
  private lastError: WasmAdmissionError | undefined
  private watcher: DirectoryWatch | undefined

  constructor(
    private readonly file: string | undefined,
    private readonly events: PolicyStoreEvents = {},
  ) {
    this.policy = deepFreeze(defaultPolicy())
    if (file) {
      const text = this.read()
      this.policy = deepFreeze(parsePolicy(text, file))
      this.lastText = text
    }
  }

  current(): Policy {
    return this.policy
  }

  /** Last rejected reload, cleared by the next good one. */
  error(): WasmAdmissionError | undefined {
    return this.lastError
  }

  readiness(): Readiness {
    if (this.lastError) return { ready: true, detail: `policy reload rejected, previous policy in force: ${this.lastError.message}` }
    return { ready: true, detail: this.file ? `policy from ${this.file}` : 'default policy' }
  }

  watch(pollIntervalMs: number): void {
    if (!this.file || this.watcher) return
    this.watcher = new DirectoryWatch({ dir: dirOf(this.file), pollIntervalMs, onTick: () => this.reload() })
    this.watcher.start()
  }

  /** Re-reads the file; returns true when a new policy was installed. */
  reload(): boolean {
    if (!this.file) return false
    let text: string
    try {
      text = this.read()
    } catch (e) {
      return this.reject(e as WasmAdmissionError, undefined)
    }
    if (text === this.lastText) return false
    try {
      this.policy = deepFreeze(parsePolicy(text, this.file))
    } catch (e) {
      return this.reject(e as WasmAdmissionError, text)
    }
    this.lastText = text
    this.lastError = undefined
    this.events.onLoaded?.(this.file)
    return true
  }

  private reject(error: WasmAdmissionError, text: string | undefined): false {
    // Report each bad version once, not on every poll tick.
    const same = this.lastError?.message === error.message
    this.lastError = error
    if (text !== undefined) this.lastText = text
    if (!same) this.events.onRejected?.(error)
    return false
  }

  private read(): string {
    try {
      return readFileSync(this.file as string, 'utf8')
    } catch (e) {
      throw new WasmAdmissionError('WA_ERR_POLICY_READ', [this.file as string, (e as Error).message])
    }
  }

  close(): void {
    this.watcher?.close()
  }
}
