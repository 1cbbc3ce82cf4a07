// bench/run.ts refuses what it does not know before a run starts (a full run takes ~20 minutes).
import { spawnSync } from 'node:child_process'
import t from 'tap'

const bench = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { encoding: 'utf8', timeout: 60_000 })

t.test('--help prints the usage and exits 0', async (t) => {
  const r = bench(['--help'])
  t.equal(r.status, 0)
  t.match(r.stdout, /^usage: scripts\/bench\.sh .*--only/s)
})

t.test('an unknown option, or an option without its value, exits 2 with the usage', async (t) => {
  for (const args of [['--bogus'], ['--only', 'e2e', '--verbose'], ['--rounds']]) {
    const r = bench(args)
    t.equal(r.status, 2, args.join(' '))
    t.match(r.stderr, /unknown option or missing value: --(bogus|verbose|rounds)\n.*usage:/s, args.join(' '))
  }
})
