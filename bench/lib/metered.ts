// Per-backend costs of the pod-CREATE rounds, measured without touching the rounds themselves: a
// backend is wrapped so that the moment its probe first reports it active (the pods of the round come
// next) and the moment it is uninstalled (the pods are done) bracket the round. Between the two:
// CPU seconds of each watched process (/proc/PID/stat), the registry requests (a counting proxy) and,
// when given, counters read from elsewhere (the apiserver's own metrics: bench/lib/apiserver-metrics.ts).
// Probe pods are outside the bracket.
import type { PodCreateBackend } from './pod-create.js'
import { procCpuSeconds, procMemory } from './proc.js'
import { r2 } from './stats.js'

export interface Meters {
  /** Processes whose CPU is charged to the round: name -> pid (read at each bracket). */
  pids: () => Record<string, number | undefined>
  /** Requests the registry has served so far. */
  registryRequests: () => number
  /** Counters whose increase over the round is charged to it (name -> value so far). */
  counters?: () => Promise<Record<string, number>>
}

export interface RoundCost {
  pods: number
  /** Wall time between the brackets (s). */
  wallSeconds: number
  registryRequests: number
  cpuSeconds: Record<string, number>
  counters: Record<string, number>
}

export interface Metered<B extends PodCreateBackend> {
  backend: B
  rounds: RoundCost[]
}

function cpuOf(pids: Record<string, number | undefined>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue
    try {
      out[name] = procCpuSeconds(pid)
    } catch {
      /* process gone */
    }
  }
  return out
}

/** Wraps b; `podsPerRound` is what the rounds create between the brackets. */
export function metered<B extends PodCreateBackend>(b: B, m: Meters, podsPerRound: number): Metered<B> {
  const rounds: RoundCost[] = []
  let start: { cpu: Record<string, number>; reg: number; counters: Record<string, number>; t: number } | null = null
  let armed = false
  const wrapped = {
    ...b,
    async install() {
      await b.install()
      armed = true
    },
    async active() {
      const on = await b.active()
      if (on && armed) {
        armed = false
        const counters = m.counters ? await m.counters() : {}
        start = { cpu: cpuOf(m.pids()), reg: m.registryRequests(), counters, t: performance.now() }
      }
      return on
    },
    async uninstall() {
      if (start) {
        const cpu = cpuOf(m.pids())
        const counters = m.counters ? await m.counters() : {}
        const s0 = start.counters
        rounds.push({
          pods: podsPerRound,
          wallSeconds: (performance.now() - start.t) / 1000,
          registryRequests: m.registryRequests() - start.reg,
          cpuSeconds: Object.fromEntries(Object.entries(cpu).filter(([k]) => start!.cpu[k] !== undefined).map(([k, v]) => [k, v - start!.cpu[k]!])),
          counters: Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, v - (s0[k] ?? 0)]).filter(([, d]) => d !== 0)),
        })
        start = null
      }
      await b.uninstall()
    },
  } as B
  return { backend: wrapped, rounds }
}

/** CPU seconds per second of each process over `seconds` while nothing else is asked of them. */
export async function idleCpuRates(pids: Record<string, number | undefined>, seconds: number): Promise<Record<string, number>> {
  const a = cpuOf(pids)
  const t = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const b = cpuOf(pids)
  const dt = (performance.now() - t) / 1000
  return Object.fromEntries(Object.entries(b).filter(([k]) => a[k] !== undefined).map(([k, v]) => [k, (v - a[k]!) / dt]))
}

/**
 * Totals over the rounds, per pod: registry requests, CPU ms of each process (also net of the
 * process's idle rate over the rounds' wall time, when given), and each counter's
 * increase per pod (a `_seconds_sum` counter in ms per pod, rounded to 3 decimals; others as counted).
 */
export function perPod(
  rounds: RoundCost[],
  idleCpuPerSecond: Record<string, number> = {},
): { pods: number; wallSeconds: number; registryRequestsPerPod: number; cpuMsPerPod: Record<string, number>; netCpuMsPerPod: Record<string, number>; countersPerPod: Record<string, number> } {
  const pods = rounds.reduce((a, r) => a + r.pods, 0)
  const reg = rounds.reduce((a, r) => a + r.registryRequests, 0)
  const cpu: Record<string, number> = {}
  for (const r of rounds) for (const [k, v] of Object.entries(r.cpuSeconds)) cpu[k] = (cpu[k] ?? 0) + v
  const counters: Record<string, number> = {}
  for (const r of rounds) for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v
  const n = Math.max(1, pods)
  const wall = rounds.reduce((a, r) => a + r.wallSeconds, 0)
  const r3 = (x: number): number => Math.round(x * 1000) / 1000
  return {
    pods,
    registryRequestsPerPod: r2(reg / n),
    wallSeconds: r2(wall),
    cpuMsPerPod: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, r2((v * 1000) / n)])),
    // minus what the process spends when nothing is created (its idle rate over the rounds' wall time)
    netCpuMsPerPod: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, r2(((v - (idleCpuPerSecond[k] ?? 0) * wall) * 1000) / n)])),
    countersPerPod: Object.fromEntries(Object.entries(counters).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k.replace('_seconds_sum{', '_ms{'), r3(/_seconds_sum\{/.test(k) ? (v * 1000) / n : v / n)])),
  }
}

export { procMemory }
