// SysctlGuard on a fake /proc/sys: the first holder records, the last one restores, dead holders are dropped.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { KUBELET_SYSCTLS, SysctlGuard } from './host-sysctls.js'

function fakeProcSys(): { dir: string; set: (v: Record<string, string>) => void; get: () => Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'wa-sysctl-'))
  const set = (v: Record<string, string>): void => {
    for (const [k, val] of Object.entries(v)) {
      mkdirSync(dirname(join(dir, 'sys', k)), { recursive: true })
      writeFileSync(join(dir, 'sys', k), `${val}\n`)
    }
  }
  const get = (): Record<string, string> => Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readFileSync(join(dir, 'sys', k), 'utf8').trim()]))
  return { dir, set, get }
}

const HOST = { 'vm/overcommit_memory': '0', 'vm/panic_on_oom': '0', 'kernel/panic': '1', 'kernel/panic_on_oops': '0', 'kernel/keys/root_maxkeys': '200', 'kernel/keys/root_maxbytes': '20000' }
const KUBELET = { 'vm/overcommit_memory': '1', 'vm/panic_on_oom': '0', 'kernel/panic': '10', 'kernel/panic_on_oops': '1', 'kernel/keys/root_maxkeys': '1000000', 'kernel/keys/root_maxbytes': '25000000' }

t.test('two holders: the last to leave restores what the first recorded', async (t) => {
  const f = fakeProcSys()
  t.teardown(() => rmSync(f.dir, { recursive: true, force: true }))
  f.set(HOST)
  const alive = new Set([101, 102])
  const opts = { procSys: join(f.dir, 'sys'), holderFile: join(f.dir, 'holders.json'), alive: (p: number) => alive.has(p) }
  const a = new SysctlGuard({ ...opts, pid: 101 })
  const b = new SysctlGuard({ ...opts, pid: 102 })
  t.same(a.acquire().original, HOST, 'first holder records the host values')
  f.set(KUBELET) // the first kubelet starts
  t.same(b.acquire(), { original: HOST, holders: [101, 102] }, 'second holder keeps the first record')
  t.equal(a.release(), undefined, 'the first to leave restores nothing while b holds')
  t.same(f.get(), KUBELET)
  t.same(b.release(), HOST, 'the last to leave restores')
  t.same(f.get(), HOST)
  t.equal(b.state(), undefined, 'holder file removed')
  t.equal(b.release(), undefined, 'a second release is a no-op')
})

t.test('a holder that died without releasing: its record survives, the next one restores it', async (t) => {
  const f = fakeProcSys()
  t.teardown(() => rmSync(f.dir, { recursive: true, force: true }))
  f.set(HOST)
  const alive = new Set([201, 202])
  const opts = { procSys: join(f.dir, 'sys'), holderFile: join(f.dir, 'holders.json'), alive: (p: number) => alive.has(p) }
  new SysctlGuard({ ...opts, pid: 201 }).acquire()
  f.set(KUBELET)
  alive.delete(201) // SIGKILLed with its kubelet running
  const next = new SysctlGuard({ ...opts, pid: 202 })
  t.same(next.acquire(), { original: HOST, holders: [202] }, 'dead holder dropped, original record kept (not the kubelet values)')
  t.same(next.release(), HOST)
  t.same(f.get(), HOST)
})
