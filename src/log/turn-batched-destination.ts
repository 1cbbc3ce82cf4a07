import type { DestinationStream } from 'pino'

/** Where a batch goes: a synchronous writer (pino.destination({ sync: true }), a SonicBoom). */
export interface SyncWriter {
  write(chunk: string): unknown
}

/**
 * Log lines written during one turn of the event loop, handed to a synchronous writer as one
 * chunk at the end of the turn (setImmediate): one write(2) per turn, on the loop's own thread.
 *
 * Why not pino's default destination: it writes asynchronously through libuv's threadpool, which
 * costs a worker wake-up, a context switch and one more event-loop turn per write; at the
 * apiserver's pace (reviews arriving one at a time) that is per line. A plain synchronous writer is
 * one write(2) per line, which at thousands of reviews a second costs more than the threadpool's
 * batching. This is both: a line waits at most until the end of the turn that wrote it (the answer
 * of the review it describes was sent before the line was logged: test/http/answer-before-log.test.ts),
 * and lines of the same turn share one write. Measured in docs/benchmarks.md ("Fourth round").
 * `schedule` is setImmediate in production; tests pass their own.
 */
export function turnBatchedDestination(writer: SyncWriter, schedule: (flush: () => void) => void = setImmediate): DestinationStream {
  let pending = ''
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    const chunk = pending
    pending = ''
    if (chunk !== '') writer.write(chunk)
  }
  return {
    write(line: string): void {
      pending += line
      if (!scheduled) {
        scheduled = true
        schedule(flush)
      }
    },
  }
}
