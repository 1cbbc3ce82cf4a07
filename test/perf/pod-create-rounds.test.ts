// bench/lib/pod-create.ts podCreateRounds: the order of the alternating rounds, a backend's own pod
// (the Linux-pod backends of the pod-CREATE section), and the per-round ratios of the pairs asked for.
import t from 'tap'
import { podCreateRounds, type PodCreateBackend } from '../../bench/lib/pod-create.js'

/** A backend that records its lifecycle in `events`; "active" as soon as installed. */
function backend(name: string, events: string[], createPod?: () => Promise<number>): PodCreateBackend {
  let on = false
  return {
    name,
    describe: name,
    install: async () => {
      on = true
      events.push(`install ${name}`)
    },
    uninstall: async () => {
      on = false
      events.push(`uninstall ${name}`)
    },
    active: async () => on,
    ...(createPod ? { createPod } : {}),
  }
}

t.test("each backend's rounds create its own pod when it has one, the shared one otherwise", async (t) => {
  const events: string[] = []
  const created: string[] = []
  const wasm = async () => {
    created.push('wasm')
    return 10
  }
  const linux = async () => {
    created.push('linux')
    return 5
  }
  const r = await podCreateRounds({
    backends: [backend('a', events), backend('b-linux', events, linux)],
    rounds: 2,
    pods: 3,
    concurrency: 2,
    createPod: wasm,
    pairs: [['b-linux', 'a']],
    log: () => {},
  })
  t.same(r.orders, [['a', 'b-linux'], ['b-linux', 'a']], 'odd rounds run the list backwards')
  t.same(events, ['install a', 'uninstall a', 'install b-linux', 'uninstall b-linux', 'install b-linux', 'uninstall b-linux', 'install a', 'uninstall a'])
  t.same(created, ['wasm', 'wasm', 'wasm', 'linux', 'linux', 'linux', 'linux', 'linux', 'linux', 'wasm', 'wasm', 'wasm'], 'exactly `pods` per backend per round, each with its own pod')
  t.equal(r.backends['a']!.pooled.p50, 10)
  t.equal(r.backends['b-linux']!.pooled.p50, 5)
  t.same(r.ratios['b-linux / a']!.p50, { median: 0.5, min: 0.5, max: 0.5, values: [0.5, 0.5] })
  t.same(Object.keys(r.ratios), ['b-linux / a'], 'only the pairs asked for')
})
