/** Starts the real webhook (both listeners, real TLS) in-process for HTTP-level tests. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import http2 from 'node:http2'
import https from 'node:https'
import http from 'node:http'
import { parseServeOptions } from '../../src/config/serve-options.js'
import { startServer, type FactsSources, type RunningServer } from '../../src/commands/serve.js'
import { makeCa, issueServingCert, type TestCa } from './tls.js'
import { waitFor } from '../harness/process.js'

export interface TestServer {
  server: RunningServer
  ca: TestCa
  tlsDir: string
  logs: Array<Record<string, unknown>>
  url: string
}

/** A log destination that keeps every JSON line as an object. */
export function logSink(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l))
      cb()
    },
  })
  return { stream, lines }
}

export async function startTestServer(opts: { args?: string[]; sources?: FactsSources; withCert?: boolean; onHealthListening?: (port: number) => void; ca?: TestCa; tlsDir?: string } = {}): Promise<TestServer> {
  const ca = opts.ca ?? makeCa()
  const tlsDir = opts.tlsDir ?? mkdtempSync(join(tmpdir(), 'wa-tls-'))
  if (opts.withCert !== false) issueServingCert(ca, tlsDir)
  const onHealthListening = opts.onHealthListening
  const options = parseServeOptions(['--tls-dir', tlsDir, '--port', '0', '--health-port', '0', '--host', '127.0.0.1', '--no-cluster', '--shutdown-delay-seconds', '0', '--poll-interval-seconds', '1', ...(opts.args ?? [])], {})
  const sink = logSink()
  const server = await startServer(options, {
    env: {},
    stdout: () => {},
    stderr: () => {},
    logDestination: sink.stream as unknown as import('pino').DestinationStream,
    ...(opts.sources ? { factsSources: async () => opts.sources! } : {}),
    ...(onHealthListening ? { onHealthListening } : {}),
  })
  return { server, ca, tlsDir, logs: sink.lines, url: `https://127.0.0.1:${server.webhookPort}` }
}

export interface HttpAnswer {
  status: number
  body: any
  raw: string
  fingerprint?: string
}

/** POST over HTTP/1.1 (a fresh TLS connection each time unless an agent is given). */
export function post1(url: string, path: string, body: string | Buffer, ca: string, opts: { agent?: https.Agent; timeoutMs?: number; contentType?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url + path, { method: 'POST', ca, agent: opts.agent ?? false, headers: { 'content-type': opts.contentType ?? 'application/json' }, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = []
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.()?.fingerprint256
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown
        try {
          parsed = JSON.parse(raw)
        } catch {
          parsed = undefined
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, raw, fingerprint })
      })
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', reject)
    req.end(body)
  })
}

/** POST over HTTP/2 on an existing session. */
export function post2(session: http2.ClientHttp2Session, path: string, body: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' })
    let status = 0
    const chunks: Buffer[] = []
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      resolve({ status, body: JSON.parse(raw), raw })
    })
    req.on('error', reject)
    req.end(body)
  })
}

export function getHealth(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}${path}`, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

/** Polls a condition until it holds or the deadline passes (synchronisation on state, not on time). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 50): Promise<void> {
  await waitFor(what, cond, timeoutMs, stepMs)
}
