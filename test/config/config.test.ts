import t from 'tap'
import { throwsWith } from '../helpers/facts.js'
import { parsePolicy } from '../../src/policy/load.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { parseServeOptions, reviewDeadlineMs, serveHelp, SERVE_SETTINGS } from '../../src/config/serve-options.js'
import { parseRegistryConfig } from '../../src/config/registry-config.js'
import { isWasmAdmissionError } from '../../src/errors.js'

t.test('policy: empty file is the default policy; partial families keep defaults', async (t) => {
  t.same(parsePolicy(''), defaultPolicy())
  const p = parsePolicy('defaultMode: warn\nfamilies:\n  spin:\n    runtimeClass: wasmtime-spin-v2\n    tolerations: [{key: wasm, operator: Exists, effect: NoSchedule}]\n')
  t.equal(p.defaultMode, 'warn')
  t.same(p.families.spin.runtimeClass, { name: 'wasmtime-spin-v2' })
  t.same(p.families.spin.handlers, defaultPolicy().families.spin.handlers)
  t.same(p.families.crun.annotations, { 'module.wasm.image/variant': 'compat-smart' })
  t.equal(parsePolicy('families: {wasi: {runtimeClass: auto}}').families.wasi.runtimeClass, 'auto')
})

t.test('policy errors name the field', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['defaultMode: strict', /defaultMode: must be one of enforce, warn, audit, off/],
    ['mixedPod: allow', /mixedPod: unknown field/],
    ['families: {spin: {handlers: []}}', /families\.spin\.handlers: must NOT have fewer than 1 items/],
    ['families: {rust: {}}', /families\.rust: unknown field/],
    ['shimLabels: [{value: x}]', /shimLabels\[0\]\.key: is required/],
    ['families: {spin: {tolerations: [{key: a, operator: Sometimes}]}}', /families\.spin\.tolerations\[0\]\.operator: must be one of Exists, Equal/],
    ['requireEligibleNode: "yes"', /requireEligibleNode: must be boolean/],
    ['a: [', /not valid YAML/],
  ]
  for (const [text, re] of cases) {
    throwsWith(t, () => parsePolicy(text, 'p.yaml'), (e: unknown) => isWasmAdmissionError(e) && e.code === 'WA_ERR_POLICY_INVALID' && re.test(e.message), text)
  }
})

t.test('serve options: flags over environment over defaults', async (t) => {
  const d = parseServeOptions([], {})
  t.equal(d.port, 8443)
  t.equal(d.webhookTimeoutSeconds, 5)
  t.equal(d.policy, undefined)
  t.equal(parseServeOptions([], { WASM_ADMISSION_PORT: '9443' }).port, 9443)
  t.equal(parseServeOptions(['--port', '7443'], { WASM_ADMISSION_PORT: '9443' }).port, 7443)
  t.equal(parseServeOptions([], { WASM_ADMISSION_READ_PULL_SECRETS: 'true' }).readPullSecrets, true)
  t.equal(parseServeOptions(['--no-cluster'], {}).noCluster, true)
  for (const [argv, re] of [[['--port', 'x'], /must be a non-negative integer/], [['--webhook-timeout-seconds', '31'], /between 1 and 30/], [['--bogus'], /Unknown option/], [['--webhook-timeout-seconds', '1', '--deadline-margin-ms', '1000'], /smaller than the webhook timeout/]] as const) {
    throwsWith(t, () => parseServeOptions([...argv], {}), (e: unknown) => isWasmAdmissionError(e) && e.code === 'WA_ERR_CONFIG' && re.test(e.message), argv.join(' '))
  }
  const help = serveHelp()
  for (const s of Object.values(SERVE_SETTINGS)) {
    t.match(help, `--${s.flag}`)
    t.match(help, s.env)
  }
})

t.test('review deadline: the margin follows the webhook timeout (20 %, at least 200 ms, at most 1 s) unless set', async (t) => {
  // Every timeoutSeconds Kubernetes allows (1-30) starts, with a deadline inside it.
  for (let s = 1; s <= 30; s++) {
    const o = parseServeOptions(['--webhook-timeout-seconds', String(s)], {})
    const d = reviewDeadlineMs(o)
    t.ok(d > 0 && d < s * 1000, `timeoutSeconds ${s}: deadline ${d} ms`)
  }
  t.equal(reviewDeadlineMs(parseServeOptions(['--webhook-timeout-seconds', '1'], {})), 800, '1 s: 200 ms margin (the floor)')
  t.equal(reviewDeadlineMs(parseServeOptions(['--webhook-timeout-seconds', '3'], {})), 2400, '3 s: 20 %')
  t.equal(reviewDeadlineMs(parseServeOptions([], {})), 4000, 'the default 5 s: 1 s margin, as before')
  t.equal(reviewDeadlineMs(parseServeOptions(['--webhook-timeout-seconds', '30'], {})), 29000, '30 s: 1 s margin (the cap)')
  t.equal(reviewDeadlineMs(parseServeOptions(['--webhook-timeout-seconds', '2', '--deadline-margin-ms', '1000'], {})), 1000, 'an explicit margin wins')
  t.equal(reviewDeadlineMs(parseServeOptions(['--webhook-timeout-seconds', '2'], { WASM_ADMISSION_DEADLINE_MARGIN_MS: '0' })), 2000, 'an explicit 0 is a margin of 0, not the default')
})

t.test('registry config', async (t) => {
  t.same(parseRegistryConfig('plainHttp: [127.0.0.1:5000]\nallowHosts: [127.0.0.0/8]\n', 'r.yaml'), { plainHttp: ['127.0.0.1:5000'], allowHosts: ['127.0.0.0/8'] })
  throwsWith(t, () => parseRegistryConfig('insecure: true', 'r.yaml'), (e) => /r.yaml: .*insecure/.test(String(e)), 'unknown key')
  throwsWith(t, () => parseRegistryConfig('limits: {maxRedirects: 99}', 'r.yaml'), (e) => /maxRedirects/.test(String(e)), 'bound')
})
