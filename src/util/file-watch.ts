import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'

export interface FileWatchOptions {
  /** Directory to watch; kubelet swaps mounted Secrets/ConfigMaps by replacing a `..data` symlink in it. */
  dir: string
  /** Poll as a fallback (some filesystems and symlink swaps emit no events). */
  pollIntervalMs: number
  /** Called on any change event and on every poll tick; must be cheap when nothing changed. */
  onTick: () => void
}

/**
 * Watches a directory and polls it. The callback decides whether anything really changed
 * (by comparing contents), so missed or spurious events are harmless.
 */
export class DirectoryWatch {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly opts: FileWatchOptions) {}

  start(): void {
    this.arm()
    this.timer = setInterval(() => {
      if (!this.watcher) this.arm()
      this.opts.onTick()
    }, this.opts.pollIntervalMs)
    this.timer.unref()
  }

  private arm(): void {
    if (this.closed) return
    try {
      this.watcher = watch(this.opts.dir, { persistent: false }, () => this.opts.onTick())
      this.watcher.on('error', () => {
        // The directory was removed or replaced: drop the watcher and re-arm on the next poll.
        this.watcher?.close()
        this.watcher = undefined
      })
    } catch {
      this.watcher = undefined
    }
  }

  close(): void {
    this.closed = true
    this.watcher?.close()
    this.watcher = undefined
    if (this.timer) clearInterval(this.timer)
  }
}

export function dirOf(file: string): string {
  return dirname(file)
}
