/** The built command line, run as a real process (scripts/test.sh builds dist/ first). */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const cli = join(root, 'dist/src/cli.js')

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('the built CLI exists (run `npm run build`)', async (t) => {
  t.ok(existsSync(cli), cli)
})

t.test('--help lists every command; an unknown command exits 2', async (t) => {
  const help = run(['--help'])
  t.equal(help.code, 0)
  for (const c of ['serve', 'inspect', 'check', 'audit', 'nodes']) t.match(help.stdout, new RegExp(`^  ${c} `, 'm'))
  const none = run([])
  t.equal(none.code, 2)
  const bad = run(['frobnicate'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown command "frobnicate"/)
})

t.test('serve --help documents each flag with its environment variable; bad flags exit 2', async (t) => {
  const r = run(['serve', '--help'])
  t.equal(r.code, 0)
  t.match(r.stdout, /--tls-dir VALUE +WASM_ADMISSION_TLS_DIR/)
  t.match(r.stdout, /--webhook-timeout-seconds N +WASM_ADMISSION_WEBHOOK_TIMEOUT_SECONDS/)
  const bad = run(['serve', '--port', 'abc'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--port \(WASM_ADMISSION_PORT\) must be a non-negative integer.*WA_ERR_CONFIG/)
})

t.test('the README documents every serve flag and its environment variable', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const { SERVE_SETTINGS } = await import('../src/config/serve-options.js')
  for (const s of Object.values(SERVE_SETTINGS)) {
    t.ok(readme.includes(`\`--${s.flag}`) && readme.includes(`\`${s.env}\``), `--${s.flag} / ${s.env}`)
  }
})

t.test('serve without a kubeconfig fails to start with a clear message and exits', async (t) => {
  const r = spawnSync(process.execPath, [cli, 'serve', '--tls-dir', '/nonexistent', '--port', '0', '--health-port', '0'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent' } })
  t.equal(r.status, 1)
  t.match(r.stderr, /cannot start: no kubeconfig/)
})

t.test('only the composition root touches process', async (t) => {
  const offenders: string[] = []
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (p.endsWith('.ts') && !p.endsWith(join('src', 'cli.ts')) && /\bprocess\.[a-zA-Z]/.test(readFileSync(p, 'utf8'))) offenders.push(p)
    }
  }
  walk(join(root, 'src'))
  t.same(offenders, [])
})
