import t from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { endpointsFor, loadHostsDir, parseHostsToml } from '../../../src/facts/images/hosts.js'

t.test('default endpoints', async (t) => {
  const hub = endpointsFor('docker.io', undefined, new Set())
  t.equal(hub.length, 1)
  t.equal(hub[0]!.apiRoot, 'https://registry-1.docker.io/v2')
  const local = endpointsFor('127.0.0.1:5000', undefined, new Set(['127.0.0.1:5000']))
  t.equal(local[0]!.apiRoot, 'http://127.0.0.1:5000/v2', 'plain HTTP only when listed')
  t.equal(endpointsFor('127.0.0.1:5000', undefined, new Set())[0]!.apiRoot, 'https://127.0.0.1:5000/v2')
})

t.test('mirrors first, then server; capabilities, ns query, path handling', async (t) => {
  const eps = endpointsFor(
    'docker.io',
    {
      hosts: {
        'docker.io': {
          mirrors: [
            { url: 'https://mirror.example.com', capabilities: ['pull'] },
            { url: 'https://proxy.example.com/cache' },
            { url: 'https://raw.example.com/custom/v2/root', overridePath: true },
          ],
        },
      },
    },
    new Set(),
  )
  t.same(
    eps.map((e) => [e.apiRoot, [...e.capabilities].sort().join(','), e.query, e.mirror]),
    [
      ['https://mirror.example.com/v2', 'pull', 'ns=docker.io', true],
      ['https://proxy.example.com/cache/v2', 'pull,resolve', 'ns=docker.io', true],
      ['https://raw.example.com/custom/v2/root', 'pull,resolve', 'ns=docker.io', true],
      ['https://registry-1.docker.io/v2', 'pull,push,resolve', '', false],
    ],
  )
  const custom = endpointsFor('ghcr.io', { hosts: { _default: { server: 'https://fallback.example.com' } } }, new Set())
  t.equal(custom[0]!.apiRoot, 'https://fallback.example.com/v2', '_default applies to others')
})

t.test('parseHostsToml (containerd format)', async (t) => {
  const toml = `
server = "https://registry-1.docker.io"   # upstream
ca = "root.pem"

[host."https://mirror.example.com"]
  capabilities = ["pull", "resolve"]
  skip_verify = true

[host."https://mirror.example.com".header]
  x-custom = ["ignored"]

[host.'http://10.0.0.5:5000']
  capabilities = ["pull"]
  override_path = true
`
  const p = parseHostsToml(toml)
  t.equal(p.server, 'https://registry-1.docker.io')
  t.equal(p.ca, 'root.pem')
  t.same(p.hosts, [
    { url: 'https://mirror.example.com', capabilities: ['pull', 'resolve'], skipVerify: true },
    { url: 'http://10.0.0.5:5000', capabilities: ['pull'], overridePath: true },
  ])
})

t.test('loadHostsDir reads <dir>/<registry>/hosts.toml and CA files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-hosts-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'docker.io'))
  await writeFile(join(dir, 'docker.io', 'ca.pem'), 'PEM-DATA')
  await writeFile(join(dir, 'docker.io', 'hosts.toml'), `server = "https://registry-1.docker.io"\n[host."https://m.example.com"]\ncapabilities = ["pull"]\nca = "ca.pem"\n`)
  const cfg = await loadHostsDir(dir)
  t.same(cfg.hosts['docker.io']?.mirrors, [{ url: 'https://m.example.com', capabilities: ['pull'], ca: ['PEM-DATA'] }])
  t.same(await loadHostsDir(join(dir, 'missing')), { hosts: {} })
})

t.test('parseHostsToml: multi-line arrays and multi-line strings (TOML 1.0, as containerd reads it)', async (t) => {
  const toml = `
server = """
https://registry.example.com"""
ca = [
  "root-a.pem",   # first
  "root-b.pem",
]

[host."https://mirror.example.com"]
  capabilities = [
    "pull",
    "resolve",
  ]
  ca = '''
/etc/certs/mirror.pem'''

[host."https://second.example.com"]
  capabilities = ["pull"]
  ca = """\\
     second.pem"""
`
  const p = parseHostsToml(toml)
  t.equal(p.server, 'https://registry.example.com', 'a multi-line basic string drops its first newline')
  t.same(p.ca, ['root-a.pem', 'root-b.pem'], 'a multi-line array with comments and a trailing comma')
  t.same(p.hosts, [
    { url: 'https://mirror.example.com', capabilities: ['pull', 'resolve'], ca: '/etc/certs/mirror.pem' },
    { url: 'https://second.example.com', capabilities: ['pull'], ca: 'second.pem' },
  ])
})

t.test('parseHostsToml: invalid TOML is an error, not a partial config', async (t) => {
  t.throws(() => parseHostsToml('server = "https://a.example.com"\nserver = "https://b.example.com"\n'), 'a key defined twice')
  t.throws(() => parseHostsToml('[host."https://m.example.com"]\ncapabilities = ["pull"\n'), 'an unterminated array')
})
