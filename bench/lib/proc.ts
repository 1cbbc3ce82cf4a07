// Small process and HTTP helpers for the bench (node: builtins only).
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer, type Server } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(opts.input ?? '')
  })
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((res, rej) => {
      const s = createServer()
      s.unref()
      s.on('error', rej)
      s.listen(0, '127.0.0.1', () => res(s))
    })),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  return ports
}

export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { timeout: timeoutMs, agent: false }, (r) => {
      let body = ''
      r.setEncoding('utf8').on('data', (d: string) => (body += d))
      r.on('end', () => res({ status: r.statusCode ?? 0, body }))
      r.on('error', rej)
    })
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)))
    req.on('error', rej)
    req.end()
  })
}

/** Polls fn until truthy (poll interval, not synchronisation: the condition decides). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, deadlineMs = 120_000, stepMs = 20): Promise<T> {
  const until = Date.now() + deadlineMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await delay(stepMs)
  }
}

const live = new Set<ChildProcess>()
let installed = false
function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', () => {
    for (const c of live) if (c.pid) try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
  })
}

export interface Child {
  proc: ChildProcess
  pid: number
  logFile: string
  exited: Promise<void>
  stop(graceMs?: number): Promise<void>
  tail(lines?: number): string
}

/** Spawns a long-running child with stdout+stderr to logFile; killed when this process exits. */
export function spawnLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Child {
  installCleanup()
  const fd = openSync(logFile, 'a')
  let proc: ChildProcess
  try {
    proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env })
  } finally {
    closeSync(fd)
  }
  live.add(proc)
  const exited = new Promise<void>((r) => proc.once('exit', () => {
    live.delete(proc)
    r()
  }))
  return {
    proc,
    pid: proc.pid!,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    },
    tail(lines = 30) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n')
      } catch {
        return '(no log)'
      }
    },
  }
}

/** VmRSS and VmHWM (peak) of a process in MB, from /proc. */
export function procMemory(pid: number): { rssMB: number; peakMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0)
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 }
}

/** CPU seconds (user+system) of a process, from /proc/PID/stat. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
