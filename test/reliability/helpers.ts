/**
 * Helpers shared by the reliability tests: the real webhook in-process with chosen listener limits
 * (like test/helpers/server.ts startTestServer, plus ServeIO.webhookTimeouts), a counting ledger
 * for the closing note of issue 8, and small process/socket utilities.
 */
import { mkdtempSync, appendFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseServeOptions } from '../../src/config/serve-options.js'
import { startServer, type FactsSources } from '../../src/commands/serve.js'
import type { WebhookTimeouts } from '../../src/http/webhook-app.js'
import { logSink, type TestServer } from '../helpers/server.js'
import { issueServingCert, makeCa, type TestCa } from '../helpers/tls.js'

export interface ReliabilityServerOptions {
  args?: string[]
  sources?: FactsSources
  timeouts?: Partial<WebhookTimeouts>
  ca?: TestCa
  tlsDir?: string
  env?: Record<string, string | undefined>
}

/** The real webhook (both listeners, real TLS) in this process, with the listener limits given. */
export async function startReliabilityServer(opts: ReliabilityServerOptions = {}): Promise<TestServer> {
  const ca = opts.ca ?? makeCa()
  const tlsDir = opts.tlsDir ?? mkdtempSync(join(tmpdir(), 'wa-rel-tls-'))
  if (!opts.tlsDir) issueServingCert(ca, tlsDir)
  const options = parseServeOptions(['--tls-dir', tlsDir, '--port', '0', '--health-port', '0', '--host', '127.0.0.1', '--shutdown-delay-seconds', '0', '--poll-interval-seconds', '1', ...(opts.args ?? ['--no-cluster'])], opts.env ?? {})
  const sink = logSink()
  const server = await startServer(options, {
    env: opts.env ?? {},
    stdout: () => {},
    stderr: () => {},
    logDestination: sink.stream as unknown as import('pino').DestinationStream,
    ...(opts.sources ? { factsSources: async () => opts.sources! } : {}),
    ...(opts.timeouts ? { webhookTimeouts: opts.timeouts } : {}),
  })
  return { server, ca, tlsDir, logs: sink.lines, url: `https://127.0.0.1:${server.webhookPort}` }
}

/**
 * Counts for the closing note of issue 8. Each test file adds its line to
 * $WASM_ADMISSION_COUNTS_FILE (when set) and prints it as a TAP comment.
 */
export class Ledger {
  readonly counts: Record<string, number> = {}
  constructor(readonly file: string) {}
  add(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n
  }
  get(key: string): number {
    return this.counts[key] ?? 0
  }
  line(): string {
    return `${this.file}: ${Object.entries(this.counts).map(([k, v]) => `${k}=${v}`).join(' ')}`
  }
  flush(): void {
    const line = this.line()
    console.error(`# counts ${line}`)
    const out = process.env.WASM_ADMISSION_COUNTS_FILE
    if (out) {
      mkdirSync(join(out, '..'), { recursive: true })
      appendFileSync(out, line + '\n')
    }
  }
}

/** Polls until cond() or the deadline; returns whether it held (no throw). */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
