/**
 * The project's container image, built from the Dockerfile for real by scripts/build-image.sh
 * (buildah, vfs storage, chroot isolation, stand-in base images; cached: an unchanged context
 * reuses every layer), pushed to a test registry, and opened for inspection.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { run, type RunResult } from './process.js'

const ROOT = resolve(import.meta.dirname, '..', '..')

export interface BuiltImage {
  /** Local name in the buildah storage, e.g. localhost/wasm-admission:dev. */
  image: string
  /** sha256 image id. */
  id: string
  /** The stand-in base images passed as NODE_IMAGE and RUNTIME_IMAGE. */
  nodeImage: string
  runtimeImage: string
  /** buildah's global storage flags for the project cache (--root, --runroot, --storage-driver). */
  storage: string[]
  /** The image was reused from the cache (same inputs), not built. */
  cached: boolean
  /** Wall time of scripts/build-image.sh (includes making the bases on a cold cache). */
  buildMs: number
}

export interface OciManifest {
  mediaType?: string
  config: { digest: string; size: number; mediaType: string }
  layers: { digest: string; size: number; mediaType: string }[]
}

export interface OciConfig {
  config?: { User?: string; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; Env?: string[]; ExposedPorts?: Record<string, unknown> }
  rootfs?: { diff_ids: string[] }
}

export interface PushedImage {
  /** host/repository@sha256:... */
  ref: string
  /** host/repository:tag */
  tagRef: string
  digest: string
  manifest: OciManifest
  config: OciConfig
  /** Layers plus config as stored in the registry (compressed). */
  compressedBytes: number
}

function ok(what: string, r: RunResult): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr.slice(-4000)}`)
  return r.stdout
}

/** An image in the project's buildah storage: its id and the storage flags. */
export type StoredImage = Pick<BuiltImage, 'image' | 'id' | 'storage' | 'cached'>

/** buildah on the project's image storage. */
async function buildah(img: Pick<BuiltImage, 'storage'>, args: string[], timeoutMs = 120_000): Promise<string> {
  return ok(`buildah ${args.join(' ')}`, await run('buildah', [...img.storage, ...args], { timeoutMs }))
}

/** Builds (or reuses) the image: scripts/build-image.sh. A cold cache takes minutes (bases, npm ci, tsc). */
export async function buildImage(tag = 'localhost/wasm-admission:dev'): Promise<BuiltImage> {
  const started = Date.now()
  const out = ok('scripts/build-image.sh', await run('bash', ['scripts/build-image.sh', tag], { cwd: ROOT, timeoutMs: 60 * 60_000 }))
  const kv = new Map(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const))
  const get = (k: string): string => {
    const v = kv.get(k)
    if (v === undefined || v === '') throw new Error(`scripts/build-image.sh printed no ${k}:\n${out}`)
    return v
  }
  return {
    image: get('IMAGE'),
    id: get('IMAGE_ID'),
    nodeImage: get('NODE_IMAGE'),
    runtimeImage: get('RUNTIME_IMAGE'),
    storage: get('BUILDAH').split(' ').slice(1),
    cached: get('CACHED') === '1',
    buildMs: Date.now() - started,
  }
}

/**
 * The stand-in for the chart's `helm test` image (curl, user 65532): scripts/build-test-image.sh.
 * Cold, it needs the Debian mirror (mmdebstrap); then it is cached by name.
 */
export async function buildTestImage(): Promise<StoredImage> {
  const out = ok('scripts/build-test-image.sh', await run('bash', ['scripts/build-test-image.sh'], { cwd: ROOT, timeoutMs: 30 * 60_000 }))
  const kv = new Map(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const))
  const get = (k: string): string => {
    const v = kv.get(k)
    if (v === undefined || v === '') throw new Error(`scripts/build-test-image.sh printed no ${k}:\n${out}`)
    return v
  }
  return { image: get('IMAGE'), id: get('IMAGE_ID'), storage: get('BUILDAH').split(' ').slice(1), cached: get('CACHED') === '1' }
}

const MANIFEST_ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ')

/** Pushes the image to a registry (plain HTTP on loopback) and reads back what a node will pull. */
export async function pushImage(img: Pick<BuiltImage, 'id' | 'storage'>, registryHost: string, repository = 'wasm-admission', tag = 'dev'): Promise<PushedImage> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-push-'))
  try {
    const tagRef = `${registryHost}/${repository}:${tag}`
    await buildah(img, ['push', '--quiet', '--tls-verify=false', '--digestfile', join(dir, 'digest'), img.id, `docker://${tagRef}`], 10 * 60_000)
    const digest = (await readFile(join(dir, 'digest'), 'utf8')).trim()
    const base = `http://${registryHost}/v2/${repository}`
    const m = await fetch(`${base}/manifests/${digest}`, { headers: { accept: MANIFEST_ACCEPT } })
    if (!m.ok) throw new Error(`GET manifest ${digest}: HTTP ${m.status}`)
    const manifest = (await m.json()) as OciManifest
    const c = await fetch(`${base}/blobs/${manifest.config.digest}`)
    if (!c.ok) throw new Error(`GET config ${manifest.config.digest}: HTTP ${c.status}`)
    const config = (await c.json()) as OciConfig
    const compressedBytes = manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0)
    return { ref: `${registryHost}/${repository}@${digest}`, tagRef, digest, manifest, config, compressedBytes }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export interface MountedImage {
  /** The image's root file system on the host (a buildah working container, mounted). */
  root: string
  /** Unpacked size of the root file system, in bytes. */
  bytes(): Promise<number>
  release(): Promise<void>
}

/** Mounts the image's root file system (a working container from the image; removed on release). */
export async function mountImage(img: BuiltImage): Promise<MountedImage> {
  const ctr = (await buildah(img, ['from', '--quiet', '--pull=never', img.id])).trim()
  try {
    const root = (await buildah(img, ['mount', ctr])).trim()
    return {
      root,
      bytes: async () => Number(ok('du', await run('du', ['-sb', root])).split(/\s/)[0]),
      release: async () => {
        await buildah(img, ['rm', ctr])
      },
    }
  } catch (e) {
    await run('buildah', [...img.storage, 'rm', ctr])
    throw e
  }
}
