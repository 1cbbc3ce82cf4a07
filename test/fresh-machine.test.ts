/**
 * Every command the tests, the demo, the bench and the scripts run is installed by the project's
 * own scripts: a Debian package in scripts/install-system-deps.sh's table, a binary built by
 * scripts/build-tools.sh, Node and npm (scripts/lib/node.sh), or part of every Debian system
 * (Essential packages) or apt, which installs the rest. A fresh machine has only those; a command found here and nowhere there is
 * a test that passes only on a machine that happens to have it (htpasswd did, issue 12).
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseBuiltTools, parseInstallTable, scanScript, shellCommands, shellUses, type Unresolved, type Use } from './harness/command-scan.js'

const ROOT = join(import.meta.dirname, '..')
const FOLDERS = ['test', 'src', 'bench', 'demo', 'scripts', 'certs']

/** Node and what scripts/lib/node.sh installs, and the Go and Rust toolchains build-tools.sh itself needs. */
const NODE_AND_TOOLCHAINS: Record<string, string> = {
  node: 'scripts/lib/node.sh', npm: 'scripts/lib/node.sh', npx: 'scripts/lib/node.sh', tsx: 'npm ci (devDependency)', tap: 'npm ci (devDependency)', tsc: 'npm ci (devDependency)',
  go: 'prerequisite of scripts/build-tools.sh (it says so when missing)',
  cargo: 'prerequisite of scripts/build-tools.sh for the Wasm shim (it says so when missing)',
  rustc: 'prerequisite of scripts/build-tools.sh for the Wasm shim (it says so when missing)',
  'apt-get': 'apt (Priority required: on every Debian system; what install-system-deps.sh installs with)',
  sudo: 'only when not root (install-system-deps.sh says so when it is missing)',
}
/**
 * Commands of Debian's Essential packages (present on every Debian system, even a minimal
 * container): bash, dash, coreutils, util-linux, grep, sed, findutils, tar, gzip, diffutils,
 * debianutils, hostname. procps (ps, pgrep) and iproute2 are not Essential.
 */
const ESSENTIAL = new Set(`sh bash dash cat cp mv rm ln ls mkdir rmdir mktemp chmod chown touch head tail cut tr sort uniq wc tee
  sha256sum md5sum basename dirname readlink realpath date sleep env id uname nproc stat du df seq yes printf echo true false test
  timeout nohup nice install stdbuf dd od base64 comm paste split expr tac nl fold truncate sync whoami groups
  flock setsid nsenter unshare mount umount findmnt kill logger getopt script
  setpriv grep egrep fgrep sed find xargs tar gzip gunzip zcat diff cmp which run-parts tempfile hostname`.split(/\s+/).filter(Boolean))

function files(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'results' || e === 'fixtures' || e.startsWith('.')) continue
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out.push(...files(p))
    else if (/\.(ts|mts|mjs|js|sh)$/.test(e) && !e.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const table = parseInstallTable(readFileSync(join(ROOT, 'scripts/install-system-deps.sh'), 'utf8'))
const built = parseBuiltTools(readFileSync(join(ROOT, 'scripts/build-tools.sh'), 'utf8'))

function scanAll(): { uses: Use[]; unresolved: Unresolved[] } {
  const uses: Use[] = []
  const unresolved: Unresolved[] = []
  for (const f of FOLDERS.flatMap((d) => files(join(ROOT, d)))) {
    const rel = relative(ROOT, f)
    if (rel === 'test/harness/command-scan.ts' || rel === 'test/fresh-machine.test.ts') continue
    const text = readFileSync(f, 'utf8')
    if (f.endsWith('.sh')) {
      for (const u of shellUses(text)) uses.push({ ...u, file: rel })
    } else {
      const r = scanScript(rel, text, built)
      uses.push(...r.uses)
      unresolved.push(...r.unresolved)
    }
  }
  return { uses, unresolved }
}

/** Why a command is there on a fresh machine, or undefined. */
function provenance(command: string, rows: Array<{ what: string; pkg: string }>): string | undefined {
  if (NODE_AND_TOOLCHAINS[command]) return NODE_AND_TOOLCHAINS[command]
  if (ESSENTIAL.has(command)) return 'Debian Essential'
  const row = rows.find((r) => r.what === command || r.what.split('/').pop() === command)
  if (row) return `install-system-deps.sh: ${row.pkg}`
  if (built.has(command)) return 'scripts/build-tools.sh'
  return undefined
}

function missing(uses: Use[], rows: Array<{ what: string; pkg: string }>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const u of uses) if (provenance(u.command, rows) === undefined) out.set(u.command, [...(out.get(u.command) ?? []), `${u.file}:${u.line}`])
  return out
}

const { uses, unresolved } = scanAll()

t.test('the scan finds the commands it should (its own fixtures)', async (t) => {
  const r = scanScript('x.ts', `import { run } from '../harness/process.js'
const OPENSSL = 'openssl'
execFileSync('htpasswd', ['-nbB'])
spawn(OPENSSL, [])
await run('ip', ['netns', 'exec', ns, 'iptables', '-L'])
execFileSync('sh', ['-c', "pgrep -af x | grep -v pgrep"])
spawn(process.execPath, [])
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))
spawn(SETPRIV, [])
run(toolPaths().kubeApiserver, [])
spawn(cmd, args)
/re/.exec(s)`, new Set(['kube-apiserver']))
  t.same(r.uses.map((u) => u.command), ['htpasswd', 'openssl', 'ip', 'sh', 'pgrep', 'grep', 'node', 'setpriv', 'kube-apiserver', 'iptables'])
  t.same(r.unresolved.map((u) => u.expression), ['cmd'])
  t.same(scanScript('y.ts', `function run(endpoint: string) {}\nrun('mutate', obj)`, new Set()).uses, [], "a test's own run() is not the harness's")
  t.same(shellCommands(`f() { :; }\nif ! command -v wrk >/dev/null; then X=1 sudo apt-get install -y "$(dpkg -l | wc -l)"; fi\nf\n# curl nothing\necho 'curl x'`), ['apt-get', 'dpkg', 'wc'])
})

t.test('every command run by test/, src/, bench/, demo/ and scripts/ is installed by the project', async (t) => {
  const names = [...new Set(uses.map((u) => u.command))].sort()
  t.ok(names.includes('htpasswd') && names.includes('openssl') && names.includes('helm'), `the scan sees the commands in use (${names.length}): ${names.join(' ')}`)
  const gaps = missing(uses, table)
  t.same(Object.fromEntries(gaps), {}, 'no command without an installer (add its Debian package to scripts/install-system-deps.sh)')
  for (const n of names) t.comment(`${n}: ${provenance(n, table) ?? 'MISSING'}`)
  t.comment(`not followed (a variable holds the command): ${unresolved.map((u) => `${u.file}:${u.line} ${u.expression}`).join('; ')}`)
})

t.test('the check fails when a needed package leaves the table', async (t) => {
  for (const cmd of ['htpasswd', 'openssl']) {
    const without = table.filter((r) => r.what !== cmd)
    t.ok(without.length < table.length, `${cmd} has a row`)
    t.ok(missing(uses, without).has(cmd), `without its row, ${cmd} is reported missing`)
  }
})
