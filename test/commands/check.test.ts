/**
 * `check` against a real registry holding the sample images, with cluster facts from the seed
 * cluster file and from a real kube-apiserver seeded with the same objects.
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { runCheck, type CheckResult } from '../../src/commands/check.js'
import { startRegistry } from '../harness/registry.js'
import { pushSampleImages } from '../harness/sample-images.js'
import { SEED_FILE } from '../facts/cluster/helpers.js'
import { seedPlane, startPlane } from '../facts/cluster/plane.js'

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCheck(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: {} })
  return { code, stdout, stderr }
}

t.test('check', async (t) => {
  const registry = await startRegistry()
  t.teardown(() => registry.stop())
  const samples = await pushSampleImages(registry.host, { only: ['spin-scratch', 'spin-v2', 'cncf-component', 'linux', 'slight-scratch', 'mixed-index'] })
  const dir = mkdtempSync(join(tmpdir(), 'wa-check-'))
  const manifests = join(dir, 'app.yaml')
  const podOf = (name: string, image: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image }], ...spec } })
  const docs = [
    podOf('spin-pod', samples['spin-scratch'].ref),
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'spin-app', namespace: 'wasm-apps' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'app', image: samples['spin-v2'].ref }] } } } },
    podOf('component', samples['cncf-component'].ref),
    podOf('web', samples['linux'].ref),
    podOf('web-under-spin', samples['linux'].ref, { runtimeClassName: 'spin-test' }),
    podOf('slight', samples['slight-scratch'].ref),
    podOf('mixed', samples['mixed-index'].ref),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: 'b' } },
  ]
  writeFileSync(manifests, docs.map((d) => stringify(d)).join('---\n'))

  const expectations = (t: Tap, results: CheckResult[]) => {
    t.same(results.map((r) => [r.kind, r.namespace, r.name, r.allowed]), [
      ['Pod', 'default', 'spin-pod', true],
      ['Deployment', 'wasm-apps', 'spin-app', true],
      ['Pod', 'default', 'component', true],
      ['Pod', 'default', 'web', true],
      ['Pod', 'default', 'web-under-spin', false],
      ['Pod', 'default', 'slight', false],
      ['Pod', 'default', 'mixed', true],
      ['ConfigMap', 'default', 'cm', true],
    ])
    const [spinPod, deploy, component, web, webUnderSpin, slight, mixed, cm] = results as [CheckResult, CheckResult, CheckResult, CheckResult, CheckResult, CheckResult, CheckResult, CheckResult]
    t.same(spinPod.patch.map((p) => [p.op, p.path, 'value' in p ? p.value : undefined]).sort(), [['add', '/spec/containers/0/command', ['/']], ['add', '/spec/nodeSelector', { spin: 'yes' }], ['add', '/spec/runtimeClassName', 'spin-test']].sort())
    t.same(deploy.patch, [], 'workloads are never patched')
    t.same(component.patch.map((p) => 'value' in p && p.value), ['wasm1', { 'wasmtime-enabled': 'yes' }], "the class and the nodeSelector its RuntimeClass plugin would add")
    t.same(web.patch, [], 'Linux pod untouched')
    t.match(webUnderSpin.reasons[0], /is a Linux image .* but RuntimeClass "spin-test" \(handler "spin"\) runs spin Wasm/)
    t.match(slight.reasons[0], /slight Wasm image .*no runtimeClassName.*no RuntimeClass has a slight handler/)
    t.ok(mixed.patch.some((p) => p.path === '/spec/containers/0/image' && 'value' in p && p.value === `${samples['mixed-index'].repository}@${samples['mixed-index'].pinnedDigest}`), 'mixed index pinned to the Wasm digest')
    t.match(cm.warnings[0], /not reviewed/)
  }
  type Tap = typeof t

  await t.test('against a cluster file, JSON', async (t) => {
    const r = await run(['-f', manifests, '--cluster', SEED_FILE, '--plain-http', '-o', 'json'])
    t.equal(r.code, 1, 'exit 1: something would be denied')
    expectations(t, JSON.parse(r.stdout))
  })

  await t.test('text output shows the patch as a diff and the verdict with reasons', async (t) => {
    const r = await run(['-f', manifests, '--cluster', SEED_FILE, '--plain-http'])
    t.match(r.stdout, /Pod default\/spin-pod: ALLOWED\n  patch:\n(    \+ .*\n){2}/)
    t.match(r.stdout, /    \+ \/spec\/runtimeClassName: "spin-test"/)
    t.match(r.stdout, /Pod default\/web-under-spin: DENIED\n  patch: none\n  reason: /)
  })

  await t.test('without --plain-http the loopback registry is refused by the SSRF guard: unknown, allowed with warnings', async (t) => {
    const r = await run(['-f', manifests, '--cluster', SEED_FILE, '-o', 'json'])
    const results = JSON.parse(r.stdout) as CheckResult[]
    t.match(results[0]!.warnings.join('\n'), /could not be inspected: .*not allowed/)
  })

  await t.test('usage errors', async (t) => {
    t.equal((await run([])).code, 2)
    t.equal((await run(['-f', manifests, '--cluster', SEED_FILE, '--kubeconfig', 'x'])).code, 2)
    t.equal((await run(['-f', manifests, '-o', 'yaml'])).code, 2)
  })

  await t.test('against a real kube-apiserver seeded with the same objects', async (t) => {
    const cp = await startPlane()
    t.teardown(() => cp.stop())
    await seedPlane(cp, SEED_FILE)
    const r = await run(['-f', manifests, '--kubeconfig', cp.kubeconfigPath, '--plain-http', '-o', 'json'])
    t.equal(r.code, 1, r.stderr)
    expectations(t, JSON.parse(r.stdout))
  })
})
