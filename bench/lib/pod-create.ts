// Pod CREATE through the real kube-apiserver with one admission backend at a time, in alternating
// rounds. A backend is one entry of the list `run.ts` builds: a name, how to install it, how to remove
// it, and a probe that says whether the apiserver currently applies it. Adding a backend (Kyverno,
// another webhook) is one more entry; the rounds, the statistics and the table follow.
import { loadavg } from 'node:os'
import { waitFor } from './proc.js'
import { r2, summarize } from './stats.js'
import type { Kube } from './kube.js'

export interface PodCreateBackend {
  /** Short name used in the table and the JSON (e.g. `null-webhooks`). */
  name: string
  /** One line: what is registered. */
  describe: string
  /** Registers the backend (objects in the apiserver, processes already running). */
  install(): Promise<void>
  /** Removes what install() registered. */
  uninstall(): Promise<void>
  /** True once the apiserver applies the backend to a new pod (e.g. a dry-run pod is mutated or counted). */
  active(): Promise<boolean>
  /** True once the apiserver no longer applies it; default: !active(). */
  inactive?(): Promise<boolean>
  /** Creates one pod of this backend's rounds (default: the rounds' createPod, the Wasm pod). */
  createPod?: () => Promise<number>
}

export interface RoundStats {
  round: number
  n: number
  p50: number
  p99: number
  mean: number
  loadAvg1: number
}

export interface Spread {
  median: number
  min: number
  max: number
  values: number[]
}

export interface PodCreateResult {
  rounds: number
  podsPerBackendPerRound: number
  concurrency: number
  /** Backend order of each round (alternates direction: A B C D, D C B A, ...). */
  orders: string[][]
  backends: Record<string, { describe: string; rounds: RoundStats[]; pooled: { n: number; p50: number; p99: number; mean: number } }>
  /** ratio[`${a} / ${b}`] = per-round ratio of a's percentile to b's, summarised over the rounds. */
  ratios: Record<string, { p50: Spread; p99: Spread }>
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
export const spread = (xs: number[]): Spread => ({ median: r2(median(xs)), min: r2(Math.min(...xs)), max: r2(Math.max(...xs)), values: xs.map(r2) })

/**
 * Runs `rounds` rounds; in each, every backend in turn is installed (and probed active), `pods` pods
 * are created with `concurrency` clients, and it is uninstalled (and probed inactive). Odd rounds run
 * the list backwards so that no backend always follows the same one. Ratios are computed per round
 * (same minute, same load) for every pair (subject, floor) asked for, then summarised: median and
 * min-max over the rounds.
 */
export async function podCreateRounds(o: {
  backends: PodCreateBackend[]
  rounds: number
  pods: number
  concurrency: number
  createPod: () => Promise<number>
  pairs: Array<[subject: string, floor: string]>
  log: (s: string) => void
}): Promise<PodCreateResult> {
  const per: Record<string, { rounds: RoundStats[]; all: number[] }> = Object.fromEntries(o.backends.map((b) => [b.name, { rounds: [], all: [] }]))
  const orders: string[][] = []
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? o.backends : [...o.backends].reverse()
    orders.push(order.map((b) => b.name))
    for (const b of order) {
      await b.install()
      await waitFor(`${b.name} active`, () => b.active(), 120_000, 50)
      const ms: number[] = []
      const createPod = b.createPod ?? o.createPod
      let next = 0
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (next++ < o.pods) ms.push(await createPod())
        }),
      )
      await b.uninstall()
      await waitFor(`${b.name} inactive`, async () => (b.inactive ? b.inactive() : !(await b.active())), 120_000, 50)
      const s = summarize(ms)
      per[b.name]!.rounds.push({ round, n: s.n, p50: r2(s.p50), p99: r2(s.p99), mean: r2(s.mean), loadAvg1: r2(loadavg()[0]!) })
      per[b.name]!.all.push(...ms)
      o.log(`  round ${round + 1}/${o.rounds} ${b.name}: p50 ${r2(s.p50)} ms p99 ${r2(s.p99)} ms (${s.n} pods, load ${r2(loadavg()[0]!)})`)
    }
  }
  const backends: PodCreateResult['backends'] = {}
  for (const b of o.backends) {
    const s = summarize(per[b.name]!.all)
    backends[b.name] = { describe: b.describe, rounds: per[b.name]!.rounds, pooled: { n: s.n, p50: r2(s.p50), p99: r2(s.p99), mean: r2(s.mean) } }
  }
  const ratios: PodCreateResult['ratios'] = {}
  for (const [a, b] of o.pairs) {
    const ra = per[a]?.rounds
    const rb = per[b]?.rounds
    if (!ra || !rb) continue
    ratios[`${a} / ${b}`] = {
      p50: spread(ra.map((x, i) => x.p50 / rb[i]!.p50)),
      p99: spread(ra.map((x, i) => x.p99 / rb[i]!.p99)),
    }
  }
  return { rounds: o.rounds, podsPerBackendPerRound: o.pods, concurrency: o.concurrency, orders, backends, ratios }
}

/** A backend made of admission objects posted to the apiserver and deleted again. */
export function objectsBackend(
  kube: Kube,
  o: { name: string; describe: string; objects: Array<{ path: string; obj: any }>; active: () => Promise<boolean>; inactive?: () => Promise<boolean>; createPod?: () => Promise<number> },
): PodCreateBackend {
  return {
    name: o.name,
    describe: o.describe,
    async install() {
      for (const { path, obj } of o.objects) await kube.must('POST', path, obj)
    },
    async uninstall() {
      for (const { path, obj } of [...o.objects].reverse()) await kube.must('DELETE', `${path}/${obj.metadata.name}`)
    },
    active: o.active,
    ...(o.inactive ? { inactive: o.inactive } : {}),
    ...(o.createPod ? { createPod: o.createPod } : {}),
  }
}
