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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
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
