/**
 * Small process, port, HTTP and polling helpers shared by the test harness, the tests, the demo and
 * the bench (node: builtins only).
 */
import { spawn } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer, type Server } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  input?: string
  /** Killed with SIGKILL after this long (default 120 s). */
  timeoutMs?: number
}

/** Runs a command to completion; never throws on a non-zero exit (a signal gives 128). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
    child.stdin.on('error', () => undefined) // the child may exit before reading stdin
    child.stdin.end(opts.input ?? '')
  })
}

/** n distinct free loopback ports (all listeners are held until every port is known). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((resolve, reject) => {
      const s = createServer()
      s.unref()
      s.on('error', reject)
      s.listen(0, '127.0.0.1', () => resolve(s))
    })),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  return ports
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!
}

export interface HttpGetOptions {
  ca?: string
  cert?: string
  key?: string
  /** Skip server certificate verification (self-signed health endpoints). */
  insecure?: boolean
  timeoutMs?: number
}

/** GET over http or https, without an agent; the body as text. */
export function httpGet(url: string, opts: HttpGetOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: !opts.insecure, timeout: opts.timeoutMs ?? 5000, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)))
    req.on('error', reject)
    req.end()
  })
}

/** Thrown from a waitFor condition to stop waiting at once (e.g. the process being waited for exited). */
export class StopWaiting extends Error {}

/**
 * Polls fn until it returns a truthy value; throws after the deadline with the last error.
 * The condition decides when to go on: the pause between polls is not synchronisation.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, deadlineMs = 60_000, maxStepMs = 500): Promise<T> {
  const until = Date.now() + deadlineMs
  let last: unknown
  for (let wait = Math.min(25, maxStepMs); ; wait = Math.min(wait * 2, maxStepMs)) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      if (e instanceof StopWaiting) throw e
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`)
    await delay(wait)
  }
}
