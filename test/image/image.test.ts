// The container image built from the project's Dockerfile for real (buildah, stand-in bases; see
// scripts/build-image.sh), pushed to a real registry and checked the way a cluster will use it:
// the config a node reads, the file system, and a run as uid 65532 on a read-only root (runc).
import { mkdtemp, readFile, rm, stat, writeFile, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml } from 'yaml'

import { buildImage, mountImage, pushImage, type BuiltImage, type MountedImage, type PushedImage } from '../harness/image.js'
import { run } from '../harness/process.js'
import { startRegistry } from '../harness/registry.js'

const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }

// A cold cache makes both bases (mmdebstrap) and runs the build's two npm ci and tsc: minutes, more
// than the suite's 15-minute file timeout on a loaded machine. The root test tells the runner.
t.setTimeout(60 * 60_000)

let img: BuiltImage
let pushed: PushedImage
let mounted: MountedImage

t.before(async () => {
  img = await buildImage()
  t.comment(`scripts/build-image.sh: ${(img.buildMs / 1000).toFixed(1)} s, ${img.cached ? 'reused from the cache (same inputs)' : 'built'} (${img.image}, ${img.id.slice(0, 12)}; bases ${img.nodeImage}, ${img.runtimeImage})`)
  const registry = await startRegistry()
  t.teardown(() => registry.stop())
  pushed = await pushImage(img, registry.host)
  mounted = await mountImage(img)
  t.teardown(() => mounted.release())
  t.comment(`image size: ${(pushed.compressedBytes / 1e6).toFixed(1)} MB compressed in the registry (${pushed.manifest.layers.length} layers), ${((await mounted.bytes()) / 1e6).toFixed(1)} MB unpacked`)
})

t.test('the registry holds what a node pulls: a manifest, its layers and the config', async (t) => {
  t.match(pushed.digest, /^sha256:[a-f0-9]{64}$/)
  t.ok(pushed.manifest.layers.length >= 2, 'base layers plus the application layers')
  for (const l of pushed.manifest.layers) t.match(l.mediaType, /tar(\+gzip|\.gzip)?$/, `${l.digest.slice(0, 19)} is a layer tarball`)
  t.same(pushed.config.rootfs?.diff_ids.length, pushed.manifest.layers.length, 'one diff_id per layer')
})

t.test('config: non-root user, node as the entrypoint, exec-form serve, production', async (t) => {
  const c = pushed.config.config ?? {}
  t.equal(c.User, '65532:65532', 'USER 65532:65532 (numeric, so runAsNonRoot can verify it)')
  t.same(c.Entrypoint, ['/nodejs/bin/node'], 'the distroless entrypoint: node, no shell')
  t.same(c.Cmd, ['dist/src/cli.js', 'serve'])
  t.equal(c.WorkingDir, '/app')
  t.ok(c.Env?.includes('NODE_ENV=production'), 'NODE_ENV=production')
  // The heap flags and the glibc malloc settings the chart also ships (docs/benchmarks.md, section 2b).
  const values = parseYaml(await readFile(join(import.meta.dirname, '..', '..', 'charts/wasm-admission/values.yaml'), 'utf8')) as { deployment: { nodeOptions: string; mallocEnv: Record<string, string> } }
  t.ok(c.Env?.includes(`NODE_OPTIONS=${values.deployment.nodeOptions}`), 'NODE_OPTIONS as the chart\'s deployment.nodeOptions')
  for (const [k, v] of Object.entries(values.deployment.mallocEnv)) t.ok(c.Env?.includes(`${k}=${v}`), `${k}=${v} as the chart's deployment.mallocEnv`)
  t.ok(c.ExposedPorts !== undefined && '8443/tcp' in c.ExposedPorts && '8080/tcp' in c.ExposedPorts, 'webhook and health ports')
})

t.test('file system: no shell, no package manager, no dev dependencies, application read-only for the user', async (t) => {
  const exists = async (p: string): Promise<boolean> => access(join(mounted.root, p)).then(() => true, () => false)
  for (const p of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'bin/dash', 'bin/busybox', 'usr/bin/env', 'usr/bin/apt', 'usr/bin/dpkg', 'usr/local/bin/npm', 'usr/local/lib/node_modules/npm']) {
    t.notOk(await exists(p), `no /${p}`)
  }
  t.ok(await exists('nodejs/bin/node'), 'node at /nodejs/bin/node')
  t.ok(await exists('app/dist/src/cli.js'), 'compiled CLI')
  t.notOk(await exists('app/src'), 'no TypeScript sources')
  t.notOk(await exists('app/dist/test'), 'no compiled tests')
  for (const dev of Object.keys(pkg.devDependencies)) t.notOk(await exists(`app/node_modules/${dev}`), `dev dependency ${dev} absent`)
  t.notOk(await exists('app/node_modules/@types'), 'no @types')
  t.ok(await exists('app/node_modules/fastify'), 'production dependencies present')
  for (const p of ['app', 'app/dist/src/cli.js', 'app/node_modules', 'app/package.json']) {
    const s = await stat(join(mounted.root, p))
    t.equal(s.uid, 0, `/${p} owned by root`)
    t.equal(s.mode & 0o022, 0, `/${p} not writable by group or others`)
  }
  const passwd = await readFile(join(mounted.root, 'etc/passwd'), 'utf8')
  t.match(passwd, /^nonroot:x:65532:65532:/m, '/etc/passwd names uid 65532')
})

t.test('runs as uid 65532 on a read-only root file system, without capabilities (runc)', async (t) => {
  const bundle = await mkdtemp(join(tmpdir(), 'wa-runc-'))
  const state = await mkdtemp(join(tmpdir(), 'wa-runc-state-'))
  t.teardown(async () => {
    await rm(bundle, { recursive: true, force: true })
    await rm(state, { recursive: true, force: true })
  })
  const spec = await run('runc', ['spec', '--bundle', bundle])
  t.equal(spec.code, 0, `runc spec: ${spec.stderr}`)
  const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
    process: { terminal: boolean; user: { uid: number; gid: number }; args: string[]; env: string[]; cwd: string; capabilities: Record<string, string[]> }
    root: { path: string; readonly: boolean }
  }
  // The probe: who am I, can I write anywhere on the root, does the serve command's module graph load
  // from the image's production node_modules.
  const probe = [
    "import { writeFileSync } from 'node:fs'",
    'const out = { uid: process.getuid(), gid: process.getgid(), writes: {} }',
    "for (const p of ['/app/probe', '/probe', '/tmp/probe', '/home/nonroot/probe']) { try { writeFileSync(p, 'x'); out.writes[p] = 'written' } catch (e) { out.writes[p] = e.code } }",
    "const serve = await import('/app/dist/src/commands/serve.js')",
    "out.runServe = typeof serve.runServe",
    'console.log(JSON.stringify(out))',
  ].join('\n')
  const c = pushed.config.config ?? {}
  const [uid, gid] = (c.User ?? '').split(':').map(Number) as [number, number]
  config.process = {
    ...config.process,
    terminal: false,
    user: { uid, gid },
    args: [...(c.Entrypoint ?? []), '--input-type=module', '-e', probe],
    env: c.Env ?? [],
    cwd: c.WorkingDir ?? '/',
    capabilities: { bounding: [], effective: [], permitted: [], ambient: [] },
  }
  config.root = { path: mounted.root, readonly: true }
  await writeFile(join(bundle, 'config.json'), JSON.stringify(config))
  const r = await run('runc', ['--root', state, 'run', '--bundle', bundle, `wa-image-${process.pid}`], { timeoutMs: 120_000 })
  t.equal(r.code, 0, `runc run exited ${r.code}: ${r.stderr.slice(-2000)}`)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { uid?: number; gid?: number; writes?: Record<string, string>; runServe?: string }
  t.equal(out.uid, 65532, 'the process runs as uid 65532 (the image USER)')
  t.equal(out.gid, 65532)
  t.same(out.writes, { '/app/probe': 'EROFS', '/probe': 'EROFS', '/tmp/probe': 'EROFS', '/home/nonroot/probe': 'EROFS' }, 'nothing on the root file system is writable')
  t.equal(out.runServe, 'function', 'the serve command loads from the production dependencies')
})
