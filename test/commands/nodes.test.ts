import t from 'tap'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runNodes, type NodesOutput } from '../../src/commands/nodes.js'
import { SEED_FILE, SEED_SPIN, SEED_WASM1 } from '../facts/cluster/helpers.js'
import { planeSkipReason, seedPlane, startPlane } from '../facts/cluster/plane.js'

async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runNodes(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env })
  return { code, stdout, stderr }
}

t.test('--cluster FILE, text', async (t) => {
  const r = await run(['--cluster', SEED_FILE])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Cluster: cluster file .*seed-cluster\.yaml: 6 nodes, 2 RuntimeClasses shown/)
  t.ok(r.stdout.includes(`  ${SEED_WASM1}\n`), 'wasm1 summary')
  t.ok(r.stdout.includes(`  ${SEED_SPIN}\n`), 'spin-test summary')
  t.match(r.stdout, /RuntimeClass spin-test \(handler spin, nodeSelector spin=yes\)/)
  t.match(r.stdout, /liar +no +lacks the spin shim \(runtimeHandlers \["", runc\] lack spin\)/)
  t.match(r.stdout, /wasm-a +yes +eligible \(shim: runtimeHandlers lists spin\)/)
  t.match(r.stdout, /spin-tainted +no +has untolerated taint wasm=true:NoSchedule/)
  t.match(r.stdout, /spin-tainted +yes +yes +\(not reported\) +wasm=true:NoSchedule/)
})

t.test('--cluster FILE, json', async (t) => {
  const r = await run(['--cluster', SEED_FILE, '-o', 'json', '--runtime-class', 'wasm1'])
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as NodesOutput
  t.equal(out.nodes.length, 6)
  t.same(out.runtimeClasses.map((x) => x.name), ['wasm1'])
  const wasm1 = out.runtimeClasses[0]!
  t.equal(wasm1.message, SEED_WASM1)
  t.equal(wasm1.eligibleNodes, 1)
  t.same(
    Object.fromEntries(wasm1.nodes.map((n) => [n.name, n.reason])),
    { cordoned: 'cordoned', liar: 'noShim', 'linux-1': 'rcNodeSelector', 'not-ready': 'taint', 'spin-tainted': 'rcNodeSelector', 'wasm-a': null },
  )
  t.equal(wasm1.nodes.find((n) => n.name === 'wasm-a')?.shimEvidence, 'runtimeHandlers')
})

t.test('--policy changes shim detection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nodes-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, 'trustRuntimeClassNodeSelector: false\n')
  const r = await run(['--cluster', SEED_FILE, '--policy', policy, '-o', 'json', '--runtime-class', 'spin-test'])
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as NodesOutput
  t.equal(
    out.runtimeClasses[0]!.message,
    '1/6 nodes can run RuntimeClass spin-test (handler spin): 5 lack the spin shim',
  )
})

t.test('usage and errors', async (t) => {
  t.equal((await run(['--help'])).code, 0)
  t.equal((await run(['--bogus'])).code, 2)
  t.equal((await run(['--output', 'yaml', '--cluster', SEED_FILE])).code, 2)
  t.equal((await run(['--kubeconfig', 'k', '--cluster', SEED_FILE])).code, 2)
  const missingFile = await run(['--cluster', '/nonexistent.yaml'])
  t.equal(missingFile.code, 1)
  t.match(missingFile.stderr, /cannot read cluster file/)
  const missingRc = await run(['--cluster', SEED_FILE, '--runtime-class', 'nope'])
  t.equal(missingRc.code, 1)
  t.match(missingRc.stderr, /RuntimeClass not found: nope/)
  const noConfig = await run([], { HOME: '/nonexistent' })
  t.equal(noConfig.code, 1)
  t.match(noConfig.stderr, /no kubeconfig/)
})

t.test('against a real kube-apiserver', { skip: planeSkipReason() ?? false }, async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  await seedPlane(cp, SEED_FILE)

  const text = await run(['--kubeconfig', cp.kubeconfigPath])
  t.equal(text.code, 0, text.stderr)
  t.ok(text.stdout.includes(`  ${SEED_WASM1}\n`), 'wasm1 summary from the live cluster')
  t.ok(text.stdout.includes(`  ${SEED_SPIN}\n`), 'spin-test summary from the live cluster')
  t.match(text.stdout, new RegExp(`Cluster: kubeconfig ${cp.kubeconfigPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${cp.server.replace(/\./g, '\\.')}\\)`))

  // KUBECONFIG from the env passed in (not process.env)
  await cp.kubectl(['label', 'node', 'linux-1', 'spin=yes'])
  const json = await run(['-o', 'json', '--runtime-class', 'spin-test'], { KUBECONFIG: cp.kubeconfigPath })
  t.equal(json.code, 0, json.stderr)
  const out = JSON.parse(json.stdout) as NodesOutput
  t.same(out.runtimeClasses[0]!.nodes.filter((n) => n.eligible).map((n) => n.name), ['linux-1', 'wasm-a'])
  t.equal(out.nodes.find((n) => n.name === 'wasm-a')?.runtimeHandlers?.includes('spin'), true)

  // An unreachable apiserver: exit 1 with the readiness detail, within --timeout.
  const dir = mkdtempSync(join(tmpdir(), 'nodes-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bad = join(dir, 'kubeconfig')
  writeFileSync(
    bad,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\n' +
      'users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
  )
  const down = await run(['--kubeconfig', bad, '--timeout', '1'])
  t.equal(down.code, 1)
  t.match(down.stderr, /did not sync within 1 s: nodes not synced/)
})
