import pino, { type DestinationStream, type Logger } from 'pino'

/**
 * The one logger factory. JSON to the destination (stdout in production). Object bodies are never
 * logged; these paths are redacted in case a caller passes one by mistake.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wasm-admission' },
      redact: {
        paths: ['object', 'oldObject', '*.object', '*.oldObject', 'headers.authorization', '*.headers.authorization', 'password', '*.password', 'auth', '*.auth', 'token', '*.token'],
        censor: '[redacted]',
      },
      timestamp: isoTimeOncePerMs,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}

/** The serving process's log lines are written in batches of at least this many bytes ... */
export const LOG_BATCH_BYTES = 4096
/** ... or at the latest this long after they were logged (and at exit). */
export const LOG_FLUSH_MS = 100

/**
 * The destination of `serve` (stdout, file descriptor 1, unless the caller passes another): pino's
 * own sonic-boom destination, batched. pino's default destination writes every line with its own
 * fs.write as soon as none is in flight; at thousands of reviews a second that write
 * (thread-pool round trip + callback) was the larger part of the per-review log line's cost
 * (docs/benchmarks.md, "Handler CPU"). Here lines are collected until LOG_BATCH_BYTES (about a dozen
 * review lines) or for at most LOG_FLUSH_MS (sonic-boom's periodicFlush, an unref'd timer), so at low
 * traffic a line appears within 100 ms. pino flushes the rest synchronously when the process exits
 * (its destination registers that for asynchronous sonic-boom streams); a SIGKILL loses at most the
 * last 100 ms of lines.
 */
export function batchedDestination(fd: number): DestinationStream {
  return pino.destination({ dest: fd, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS })
}

/**
 * pino's isoTime, formatted once per millisecond: at thousands of reviews a second most log lines
 * share their millisecond with the previous one (the same text pino.stdTimeFunctions.isoTime writes).
 */
let lastMs = -1
let lastTime = ''
export function isoTimeOncePerMs(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastTime = `,"time":"${new Date(now).toISOString()}"`
  }
  return lastTime
}

/**
 * The logger for the one line per admission review (RequestLogFields): the same destination, level,
 * fields and format, without the redaction. Those fields are a fixed set of strings and a number
 * that the pipeline builds itself (never an object from the request), so no redaction path can
 * match them, and the redaction is most of the line's cost: pino 10's @pinojs/redact walks and copies
 * the logged object for the wildcard paths, about 5x the cost of the rest of the line (measured in
 * docs/benchmarks.md). Everything else, error lines included, goes through the redacting logger.
 */
export function requestLineLogger(logger: Logger): Logger {
  return logger.child({}, { redact: [] })
}

/** The fixed set of fields every admission log line carries. */
export interface RequestLogFields {
  uid: string
  kind: string
  namespace: string
  name: string
  operation: string
  user: string
  endpoint: string
  mode: string
  decision: string
  duration_ms: number
}
