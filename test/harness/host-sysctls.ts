/**
 * The kubelet sets host-wide kernel settings at start (pkg/kubelet/cm/container_manager_linux.go,
 * setupKernelTunables, v1.36.3: vm/overcommit_memory=1, vm/panic_on_oom=0, kernel/panic=10,
 * kernel/panic_on_oops=1, kernel/keys/root_maxkeys=1000000, kernel/keys/root_maxbytes=25000000). They
 * are not namespaced, so the harness records them before the first kubelet starts and puts them back
 * when the last real-node environment on the machine stops.
 *
 * Several environments may run at once (tap runs two test files in parallel): a holder file lists the
 * pids using the kubelet and the values recorded by the first of them; the last one to leave restores
 * them. Holders that died without leaving are dropped by the next one to come or go.
 */
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The settings the kubelet changes, as paths under /proc/sys. */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const

export interface HolderFile {
  /** Values before the first holder's kubelet started. */
  original: Record<string, string>
  holders: number[]
}

export interface SysctlGuardOptions {
  /** Default /proc/sys (a temp dir in the unit test). */
  procSys?: string
  /** Holder file; default /run/wasm-admission-kubelet-sysctls.json. */
  holderFile?: string
  /** Whether a pid is alive; default kill(pid, 0). */
  alive?: (pid: number) => boolean
  pid?: number
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Busy-waits briefly; only for the cross-process lock below (also used from exit handlers, which must be synchronous). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

export class SysctlGuard {
  readonly procSys: string
  readonly holderFile: string
  private readonly alive: (pid: number) => boolean
  private readonly pid: number
  private held = false

  constructor(opts: SysctlGuardOptions = {}) {
    this.procSys = opts.procSys ?? '/proc/sys'
    this.holderFile = opts.holderFile ?? '/run/wasm-admission-kubelet-sysctls.json'
    this.alive = opts.alive ?? pidAlive
    this.pid = opts.pid ?? process.pid
  }

  /** Current values of KUBELET_SYSCTLS. */
  read(): Record<string, string> {
    return Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readFileSync(join(this.procSys, k), 'utf8').trim()]))
  }

  /** The holder file, or undefined. */
  state(): HolderFile | undefined {
    try {
      return JSON.parse(readFileSync(this.holderFile, 'utf8')) as HolderFile
    } catch {
      return undefined
    }
  }

  private locked<T>(fn: () => T): T {
    const lock = `${this.holderFile}.lock`
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        mkdirSync(lock)
        break
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        if (Date.now() > deadline) rmdirSync(lock) // a holder died inside the lock
        else pause(20)
      }
    }
    try {
      return fn()
    } finally {
      rmdirSync(lock)
    }
  }

  /** Records the values (when no live holder has) and registers this process; before the first kubelet starts. */
  acquire(): HolderFile {
    return this.locked(() => {
      const prev = this.state()
      const live = (prev?.holders ?? []).filter((p) => p !== this.pid && this.alive(p))
      // The file exists until the last holder restored the values: if it is there, its record is the
      // one from before any kubelet (even when its holders died without restoring).
      const original = prev ? prev.original : this.read()
      const next: HolderFile = { original, holders: [...live, this.pid] }
      writeFileSync(this.holderFile, JSON.stringify(next))
      this.held = true
      return next
    })
  }

  /**
   * Unregisters this process; the last live holder writes the recorded values back and removes the
   * file. Returns the values restored, or undefined when others still hold them. Synchronous (exit handlers).
   */
  release(): Record<string, string> | undefined {
    if (!this.held) return undefined
    this.held = false
    return this.locked(() => {
      const prev = this.state()
      if (!prev) return undefined
      const live = prev.holders.filter((p) => p !== this.pid && this.alive(p))
      if (live.length > 0) {
        writeFileSync(this.holderFile, JSON.stringify({ original: prev.original, holders: live }))
        return undefined
      }
      for (const [k, v] of Object.entries(prev.original)) {
        try {
          writeFileSync(join(this.procSys, k), `${v}\n`)
        } catch {
          /* best effort: keep restoring the others */
        }
      }
      rmSync(this.holderFile, { force: true })
      return prev.original
    })
  }
}
