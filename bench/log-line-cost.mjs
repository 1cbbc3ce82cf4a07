/**
 * What one request log line costs the webhook's process, by destination, hot (lines back to back,
 * one per event-loop turn) and at the apiserver's pace (one line per timer wake-up, every 5 ms):
 * CPU (user + system, process.cpuUsage) per line, including the loop's own cost per turn, which the
 * `none` row (a silent logger) shows alone. At a low rate the code runs with cold caches on every
 * wake-up, so the same line costs an order of magnitude more than in a hot loop; docs/benchmarks.md
 * ("Fourth round") has the figures. The lines go to this process's stdout: send it to a file.
 *
 *   node bench/log-line-cost.mjs [ROUNDS] > /tmp/lines.log     (after npm run build)
 *
 * Each (mode, pace) runs in a fresh child process, rounds alternating the modes.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { turnBatchedDestination } from '../dist/src/log/turn-batched-destination.js'

const MODES = {
  none: () => pino({ level: 'silent' }),
  'pino default (async, threadpool)': () => pino({ base: { service: 'wasm-admission' } }),
  'pino sync': () => pino({ base: { service: 'wasm-admission' } }, pino.destination({ dest: 1, sync: true })),
  'turn-batched sync (shipped)': () => pino({ base: { service: 'wasm-admission' } }, turnBatchedDestination(pino.destination({ dest: 1, sync: true }))),
  'pino, no write (formatting only)': () => pino({ base: { service: 'wasm-admission' } }, { write() {} }),
}
const FIELDS = { uid: '0b1c2d3e-aaaa-bbbb-cccc-0123456789ab', kind: 'Pod', namespace: 'e2e', name: 'e2e-1', operation: 'CREATE', user: 'system:admin', endpoint: 'mutate', mode: 'enforce', decision: 'mutated', duration_ms: 0.412 }

async function child(mode, pace, n) {
  const logger = MODES[mode]()
  let i = 0
  const start = process.cpuUsage()
  await new Promise((resolve) => {
    const tick = () => {
      logger.info(FIELDS, 'admission review')
      if (++i >= n) return resolve()
      if (pace === 'hot') setImmediate(tick)
      else setTimeout(tick, 5)
    }
    tick()
  })
  const u = process.cpuUsage(start)
  process.stderr.write(JSON.stringify({ us: (u.user + u.system) / n }) + '\n')
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], Number(process.argv[5]))
} else {
  const rounds = Number(process.argv[2] ?? 3)
  const self = fileURLToPath(import.meta.url)
  const res = {}
  for (let r = 0; r < rounds; r++) {
    for (const mode of Object.keys(MODES)) {
      for (const [pace, n] of [['hot', 100_000], ['5 ms', 2_000]]) {
        const r = spawnSync(process.execPath, [self, '--child', mode, pace, String(n)], { stdio: ['ignore', 'inherit', 'pipe'] })
        if (r.status !== 0) throw new Error(`${mode} ${pace}: exit ${r.status}: ${r.stderr}`)
        const err = r.stderr.toString()
        ;((res[mode] ??= {})[pace] ??= []).push(JSON.parse(err.trim().split('\n').pop()).us)
      }
    }
  }
  const fmt = (xs) => { const s = [...xs].sort((a, b) => a - b); return `${s[Math.floor(s.length / 2)].toFixed(1)} [${s[0].toFixed(1)}-${s[s.length - 1].toFixed(1)}]` }
  process.stderr.write(`us of CPU per line, median [min-max] of ${rounds} rounds (the loop's own cost included: see none)\n`)
  process.stderr.write(`${'destination'.padEnd(36)} ${'hot'.padEnd(22)} one line per 5 ms\n`)
  for (const [mode, v] of Object.entries(res)) process.stderr.write(`${mode.padEnd(36)} ${fmt(v.hot).padEnd(22)} ${fmt(v['5 ms'])}\n`)
}
