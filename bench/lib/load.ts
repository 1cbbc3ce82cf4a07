// Load generators in their own processes: wrk (HTTP/1.1 keep-alive) and h2load (HTTP/2), both over TLS.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from './proc.js'
import { pct } from './stats.js'

export interface LoadResult {
  tool: 'wrk' | 'h2load'
  rps: number
  p50: number
  p99: number
  p999: number
  mean: number
  requests: number
  errors: number
  /** Server CPU (user + system) per review served during the run, in microseconds (when measured). */
  cpuUsPerReview?: number
}

const LUA = join(import.meta.dirname, 'post.lua')

export interface LoadOptions {
  url: string
  body: string
  seconds: number
  /** HTTP/1.1 connections (wrk) or HTTP/2 connections x streams (h2load). */
  connections: number
  streams?: number
  warmupSeconds?: number
  /** h2load only: requests per second per connection (open loop: a fixed rate, not saturation). */
  rps?: number
}

function bodyFile(body: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'wa-bench-body-'))
  const file = join(dir, 'body.json')
  writeFileSync(file, body)
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** HTTP/1.1 keep-alive load with wrk; latencies in ms. */
export async function wrk(o: LoadOptions): Promise<LoadResult> {
  const b = bodyFile(o.body)
  try {
    const env = { ...process.env, BODY_FILE: b.file }
    if (o.warmupSeconds) await run('wrk', ['-t1', `-c${o.connections}`, `-d${o.warmupSeconds}s`, '-s', LUA, o.url], { env })
    const r = await run('wrk', ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '10s', '-s', LUA, o.url], { env, timeoutMs: (o.seconds + 30) * 1000 })
    const line = /WRKJSON (\{.*\})/.exec(r.stdout)
    if (!line) throw new Error(`wrk printed no summary (exit ${r.code}): ${r.stdout}${r.stderr}`)
    const j = JSON.parse(line[1]!) as Record<string, number>
    return {
      tool: 'wrk',
      rps: j.requests! / (j.duration_us! / 1e6),
      p50: j.p50_us! / 1000,
      p99: j.p99_us! / 1000,
      p999: j.p999_us! / 1000,
      mean: j.mean_us! / 1000,
      requests: j.requests!,
      errors: j.errors! + j.non2xx!,
    }
  } finally {
    b.cleanup()
  }
}

/** HTTP/2 load with h2load (TLS, ALPN h2); per-request latencies from its log file; ms. */
export async function h2load(o: LoadOptions): Promise<LoadResult> {
  const b = bodyFile(o.body)
  const log = join(tmpdir(), `wa-h2load-${process.pid}-${Date.now()}.tsv`)
  try {
    const args = ['-t1', `-c${o.connections}`, `-m${o.streams ?? 8}`, ...(o.rps ? ['--rps', String(o.rps)] : []), '-D', String(o.seconds), '--warm-up-time', String(o.warmupSeconds ?? 1), '-d', b.file, '-H', 'content-type: application/json', `--log-file=${log}`, o.url]
    const r = await run('h2load', args, { timeoutMs: (o.seconds + (o.warmupSeconds ?? 1) + 30) * 1000 })
    const fin = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(r.stdout)
    const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(r.stdout)
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout)
    if (!fin || !reqs) throw new Error(`h2load printed no summary (exit ${r.code}): ${r.stdout}${r.stderr}`)
    const lat = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => Number(l.split('\t')[2]) / 1000)
      .sort((a, c) => a - c)
    return {
      tool: 'h2load',
      rps: Number(fin[3]),
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      p999: pct(lat, 99.9),
      mean: lat.reduce((a, c) => a + c, 0) / Math.max(1, lat.length),
      requests: Number(reqs[4]),
      errors: Number(reqs[5]) + Number(reqs[6]) + (codes ? Number(codes[3]) + Number(codes[4]) : 0),
    }
  } finally {
    b.cleanup()
    rmSync(log, { force: true })
  }
}
