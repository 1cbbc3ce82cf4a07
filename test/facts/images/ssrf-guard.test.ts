import t from 'tap'
import { embeddedIPv4, HostBlockedError, SsrfGuard } from '../../../src/facts/images/ssrf-guard.js'

t.test('default guard blocks internal ranges', async (t) => {
  const g = new SsrfGuard()
  const blocked = ['127.0.0.1', '127.1.2.3', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', 'fd00:ec2::254']
  for (const ip of blocked) t.type(g.addressBlockReason(ip), 'string', `${ip} blocked`)
  const open = ['8.8.8.8', '140.82.112.3', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']
  for (const ip of open) t.equal(g.addressBlockReason(ip), undefined, `${ip} open`)
  t.match(g.addressBlockReason('169.254.169.254'), /link-local/)
  t.match(g.addressBlockReason('::1'), /loopback/)
})

t.test('allow-list: CIDRs, IPs, names, wildcards, ports ignored', async (t) => {
  const g = new SsrfGuard({ allow: ['127.0.0.0/8', '10.0.0.5', 'registry.internal:5000', '*.corp.example', 'fd00::/8'] })
  t.equal(g.addressBlockReason('127.0.0.1'), undefined)
  t.equal(g.addressBlockReason('10.0.0.5'), undefined)
  t.type(g.addressBlockReason('10.0.0.6'), 'string')
  t.equal(g.addressBlockReason('fd00::1'), undefined)
  t.equal(g.addressBlockReason('::ffff:127.0.0.1'), undefined, 'mapped v4 uses the v4 allow-list')
  t.type(g.addressBlockReason('169.254.169.254'), 'string', 'metadata still blocked')
  t.ok(g.nameAllowed('registry.internal'))
  t.ok(g.nameAllowed('a.corp.example'))
  t.notOk(g.nameAllowed('corp.example.evil'))
  t.throws(() => new SsrfGuard({ allow: ['10.0.0.0/99'] }), /invalid CIDR/)
})

t.test('checkLiteral and check', async (t) => {
  const g = new SsrfGuard({ resolver: async (h) => (h === 'metadata.evil' ? [{ address: '169.254.169.254', family: 4 }] : [{ address: '93.184.216.34', family: 4 }]) })
  t.throws(() => g.checkLiteral('169.254.169.254'), HostBlockedError)
  t.throws(() => g.checkLiteral('[::1]'), HostBlockedError)
  t.doesNotThrow(() => g.checkLiteral('example.com'), 'names are checked at lookup')
  await t.rejects(g.check('metadata.evil'), /169\.254\.169\.254/)
  await t.resolves(g.check('example.com'))
})

function lookup(g: SsrfGuard, host: string, opts: object): Promise<{ err: Error | null; address: unknown; family?: number }> {
  return new Promise((resolve) => {
    ;(g.lookup as unknown as (h: string, o: object, cb: (e: Error | null, a: unknown, f?: number) => void) => void)(host, opts, (err, address, family) =>
      resolve(family === undefined ? { err, address } : { err, address, family }),
    )
  })
}

t.test('connect lookup refuses names that resolve to blocked addresses (DNS rebinding)', async (t) => {
  let calls = 0
  // first answer public, then internal: every connection resolves again through the guard
  const g = new SsrfGuard({ resolver: async () => (calls++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]) })
  const first = await lookup(g, 'rebind.example', {})
  t.equal(first.err, null)
  t.equal(first.address, '93.184.216.34')
  t.equal(first.family, 4)
  const second = await lookup(g, 'rebind.example', { all: true })
  t.type(second.err, HostBlockedError)
  t.match(second.err?.message, /127\.0\.0\.1 is loopback/)
})

t.test('lookup: any blocked address refuses; all:true returns the list; allowed names pass', async (t) => {
  const g = new SsrfGuard({ allow: ['internal.example'], resolver: async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.1', family: 4 }] })
  t.type((await lookup(g, 'mixed.example', { all: true })).err, HostBlockedError)
  const ok = await lookup(g, 'internal.example', { all: true })
  t.equal(ok.err, null)
  t.same(ok.address, [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.1', family: 4 }])
  const v6only = await lookup(g, 'internal.example', { family: 6 })
  t.match(v6only.err?.message, /ENOTFOUND/)
})

t.test('embeddedIPv4', async (t) => {
  t.equal(embeddedIPv4('::ffff:1.2.3.4'), '1.2.3.4')
  t.equal(embeddedIPv4('::ffff:a9fe:a9fe'), '169.254.169.254')
  t.equal(embeddedIPv4('64:ff9b::7f00:1'), '127.0.0.1')
  t.equal(embeddedIPv4('2001:db8::1'), undefined)
  t.equal(embeddedIPv4('1.2.3.4'), undefined)
})
