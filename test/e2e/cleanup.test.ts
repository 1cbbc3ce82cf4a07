// The e2e environment (and so the demo) leaves nothing behind: on SIGINT/SIGTERM of the process that
// started it, and when starting fails half-way. Real processes; liveness read from /proc.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { liveChildren, REPO_ROOT, startE2EEnv, waitFor } from '../harness/e2e-env.js'
import { e2eSkip } from './helpers.js'

const skip = e2eSkip(t)

/** Alive and not a zombie (an orphan's zombie may linger when PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z'
  } catch {
    return false
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`${sig} to the process running the environment kills every process it started`, { skip, timeout: 300_000 }, async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/e2e/fixtures/env-child.ts')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })))
    const started = await waitFor('the child to report its processes', () => {
      if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${stderr}`)
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      return line ? (JSON.parse(line) as { pids: number[]; dirs: string[] }) : undefined
    }, 180_000)
    t.ok(started.pids.length >= 5, `etcd, apiserver, controller-manager, registry, webhook: ${started.pids.join(' ')}`)
    for (const p of started.pids) t.ok(alive(p), `pid ${p} alive before the signal`)

    child.kill(sig)
    const end = await exited
    t.equal(end.signal, sig, `the child died of ${sig}`)
    await waitFor('every started process to be gone', () => started.pids.every((p) => !alive(p)), 30_000)
    t.pass('no process left')
    for (const d of started.dirs) t.notOk(existsSync(d), `temp dir ${d} removed`)
  })
}

t.test('a start that fails half-way (webhook rejects its policy) stops what it started', { skip, timeout: 300_000 }, async (t) => {
  const before = new Set(liveChildren().map((c) => c.pid))
  await t.rejects(startE2EEnv({ samples: [], policy: { defaultMode: 'sideways' } }), /webhook exited with code \d+ before it was ready[\s\S]*defaultMode/)
  const left = liveChildren().filter((c) => !before.has(c.pid))
  t.same(left.map((c) => `${c.pid} ${c.comm}`), [], 'no child process left')
})
