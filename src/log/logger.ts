import pino, { type DestinationStream, type Logger } from 'pino'
import { turnBatchedDestination } from './turn-batched-destination.js'

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

/**
 * Standard output for the logger: written synchronously (as node writes its own stdout to files and
 * pipes on Linux), the lines of one event-loop turn in one write (turn-batched-destination.ts says
 * why, and what pino's asynchronous default costs per review).
 */
export function stdoutDestination(): DestinationStream {
  return turnBatchedDestination(pino.destination({ dest: 1, sync: true }))
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
