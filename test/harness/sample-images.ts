/**
 * Sample images in every packaging style of docs/wasm-oci.md, built from bytes
 * and pushed to a registry. Reused by the image-facts tests, the end-to-end tests and the demo.
 *
 *   const samples = await pushSampleImages('127.0.0.1:5000')
 *   samples['spin-v2'].ref       // '127.0.0.1:5000/samples/spin-v2:v1'
 *   samples['spin-v2'].expected  // { kind: 'wasm', runtime: 'spin', ... }
 *
 * Most samples only have the right shape (a stand-in module, an ELF header). The ones in
 * RUNNABLE_SAMPLES really run on a node (bytes from ./runnable-images.ts, built from
 * test/harness/images/ at set-up): `wasi-hello`, `wasi-ticker` (wasmtime shim), `linux` (runc),
 * and `pause`, the sandbox image a harness node's containerd uses.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { HELLO_LINUX_LINE, HELLO_WASM_LINE, LINUX_ENTRYPOINT, runnableLayer, TICKER_START_LINE, type RunnableName } from './runnable-images.js'
import { buildTar, type TarFile } from './tar.js'
import { bytesOf, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Pusher, type PushCredentials, type PushedDescriptor } from './push.js'

export const SAMPLE_NAMES = [
  'spin-scratch',
  'spin-v2',
  'spin-v2-canary',
  'spin-legacy',
  'cncf-component',
  'cncf-module',
  'runwasi-oci',
  'wasi-scratch',
  'slight-scratch',
  'crun-annotated',
  'wasmcloud-provider',
  'envoy-filter',
  'wasm-to-oci',
  'linux',
  'linux-index',
  'wasm-only-index',
  'mixed-index',
  'wasi-hello',
  'wasi-ticker',
  'pause',
  'spin-ticker',
] as const
export type SampleName = (typeof SAMPLE_NAMES)[number]

export interface SampleExpectation {
  kind: 'wasm' | 'linux' | 'unsupported'
  runtime: 'spin' | 'slight' | 'wasi' | 'crun' | null
  /** True when the Wasm workload is an index entry (pinnedImage set). */
  pinned: boolean
  /** For kind wasm: whether the image config has Entrypoint/Cmd. */
  hasEntrypoint: boolean | null
  /** CLI `supported` field. */
  supported: boolean
  /** Shape, for humans: manifest/index media type. */
  format: string
  /** A substring every verdict's evidence must contain. */
  evidenceIncludes: string
}

export interface SampleImage {
  name: SampleName
  /** `host/samples/<name>:v1` */
  ref: string
  /** `host/samples/<name>` */
  repository: string
  /** Digest the tag resolves to (index digest for indexes). */
  digest: string
  /** For index samples with a Wasm entry: the entry digest. */
  pinnedDigest: string | null
  expected: SampleExpectation
}

// ---------------------------------------------------------------- bytes

/** The smallest valid Wasm module: magic + version. */
export const WASM_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
/** A stand-in ELF header for Linux binaries. */
export const ELF_STUB = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00])

export { buildTar, type TarFile }

export const gzip = (b: Uint8Array): Uint8Array => new Uint8Array(gzipSync(b))

// ---------------------------------------------------------------- builders

const MT = {
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  OCI_TGZ: 'application/vnd.oci.image.layer.v1.tar+gzip',
  DOCKER_TGZ: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  WASM_CONFIG_V0: 'application/vnd.wasm.config.v0+json',
  WASM: 'application/wasm',
  SPIN_LOCKED: 'application/vnd.fermyon.spin.application.v1+config',
  SPIN_WASM: 'application/vnd.wasm.content.layer.v1+wasm',
  SPIN_DATA: 'application/vnd.wasm.content.layer.v1+data',
  RUNWASI_COMPONENT: 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
  WASMCLOUD_PROVIDER_CONFIG: 'application/vnd.wasmcloud.provider.archive.config',
  WASMCLOUD_PROVIDER_LAYER: 'application/vnd.wasmcloud.provider.archive.layer.v1+par',
  SOLO_CONFIG: 'application/vnd.module.wasm.config.v1+json',
  SOLO_LAYER: 'application/vnd.module.wasm.content.layer.v1+wasm',
  WASM_TO_OCI_CONFIG: 'application/vnd.wasm.config.v1+json',
  IN_TOTO: 'application/vnd.in-toto+json',
} as const

const SPIN_TOML = `spin_manifest_version = 2\n[application]\nname = "hello"\n[[trigger.http]]\nroute = "/..."\ncomponent = "hello"\n[component.hello]\nsource = "spin_rust_hello.wasm"\n`
/** spin.toml of the runnable `spin-ticker` sample: one component whose source is the ticker module. */
const SPIN_TICKER_TOML = `spin_manifest_version = 2\n[application]\nname = "ticker"\n[[trigger.http]]\nroute = "/..."\ncomponent = "ticker"\n[component.ticker]\nsource = "ticker.wasm"\n`
const SLIGHTFILE = `specversion = "0.2"\n[[capability]]\nresource = "keyvalue.filesystem"\nname = "my-container"\n`

function imageConfig(os: string, architecture: string, extra: { Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string> } = {}, diffIds: string[] = []): Uint8Array {
  return bytesOf({
    created: '2026-01-01T00:00:00Z',
    architecture,
    os,
    config: { ...extra },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [],
  })
}

type Builder = (p: Pusher, repo: string, tag: string) => Promise<{ digest: string; pinnedDigest: string | null; format: string }>

async function scratchImage(
  p: Pusher,
  repo: string,
  tag: string,
  o: { docker: boolean; os: string; arch: string; files: TarFile[]; entrypoint?: string[]; annotations?: Record<string, string> },
): Promise<PushedDescriptor> {
  const tar = buildTar(o.files)
  const layer = await p.pushBlob(repo, gzip(tar), o.docker ? MT.DOCKER_TGZ : MT.OCI_TGZ)
  const cfg = await p.pushBlob(
    repo,
    imageConfig(o.os, o.arch, o.entrypoint ? { Entrypoint: o.entrypoint } : {}, [sha256Hex(tar)]),
    o.docker ? MT.DOCKER_CONFIG : MT.OCI_CONFIG,
  )
  return p.pushImageManifest(repo, tag, {
    mediaType: o.docker ? DOCKER_MANIFEST : OCI_MANIFEST,
    config: cfg,
    layers: [layer],
    ...(o.annotations ? { annotations: o.annotations } : {}),
  })
}

/** A sample that really runs: one cached tar layer from ./runnable-images.ts. */
async function runnableImage(
  p: Pusher,
  repo: string,
  tag: string,
  name: RunnableName,
  o: { docker: boolean; os: string; arch: string; entrypoint: string[] },
): Promise<PushedDescriptor> {
  const l = await runnableLayer(name)
  const layer = await p.pushBlob(repo, l.gz, o.docker ? MT.DOCKER_TGZ : MT.OCI_TGZ)
  const cfg = await p.pushBlob(repo, imageConfig(o.os, o.arch, { Entrypoint: o.entrypoint }, [l.diffId]), o.docker ? MT.DOCKER_CONFIG : MT.OCI_CONFIG)
  return p.pushImageManifest(repo, tag, { mediaType: o.docker ? DOCKER_MANIFEST : OCI_MANIFEST, config: cfg, layers: [layer] })
}

/**
 * Samples that run on a real node: the handler family they need and the first line they print
 * (`longRunning`: keeps running, fit for a Deployment). `pause` is the sandbox image (prints nothing).
 */
export const RUNNABLE_SAMPLES = {
  'wasi-hello': { needs: 'wasm', firstLine: HELLO_WASM_LINE, longRunning: false },
  'wasi-ticker': { needs: 'wasm', firstLine: TICKER_START_LINE, longRunning: true },
  linux: { needs: 'runc', firstLine: HELLO_LINUX_LINE, longRunning: true },
  pause: { needs: 'runc', firstLine: null, longRunning: true },
} as const satisfies Partial<Record<SampleName, { needs: 'wasm' | 'runc'; firstLine: string | null; longRunning: boolean }>>

const sha256Hex = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

async function spinRegistryPush(p: Pusher, repo: string, tag: string, os: string): Promise<PushedDescriptor> {
  const wasm = await p.pushBlob(repo, WASM_MODULE, MT.SPIN_WASM)
  const data = await p.pushBlob(repo, bytesOf('<h1>static asset bigger than 128 bytes'.padEnd(200, '.')), MT.SPIN_DATA)
  const locked = await p.pushBlob(
    repo,
    bytesOf({ spin_lock_version: 1, triggers: [{ id: 'trigger--hello', trigger_type: 'http', trigger_config: { component: 'hello', route: '/...' } }], components: [{ id: 'hello', source: { content: { digest: wasm.digest } } }] }),
    MT.SPIN_LOCKED,
  )
  const cfg = await p.pushBlob(
    repo,
    bytesOf({ architecture: 'wasm', os, config: { Labels: { 'com.fermyon.spin.lockedAppDigest': locked.digest } }, rootfs: { type: 'layers', diff_ids: [] } }),
    MT.OCI_CONFIG,
  )
  return p.pushImageManifest(repo, tag, { config: cfg, layers: [wasm, data, locked] })
}

const BUILDERS: Record<SampleName, { build: Builder; expected: Omit<SampleExpectation, 'format'> }> = {
  'spin-scratch': {
    // deislabs / spinkube examples: Dockerfile FROM scratch + spin.toml, buildx --platform wasi/wasm, Docker v2 manifest
    expected: { kind: 'wasm', runtime: 'spin', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'spin.toml' },
    build: async (p, repo, tag) => {
      const m = await scratchImage(p, repo, tag, {
        docker: true,
        os: 'wasi',
        arch: 'wasm',
        files: [{ path: 'spin.toml', content: SPIN_TOML }, { path: 'spin_rust_hello.wasm', content: WASM_MODULE }],
      })
      return { digest: m.digest, pinnedDigest: null, format: DOCKER_MANIFEST }
    },
  },
  'spin-v2': {
    expected: { kind: 'wasm', runtime: 'spin', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: MT.SPIN_WASM },
    build: async (p, repo, tag) => ({ digest: (await spinRegistryPush(p, repo, tag, 'wasip1')).digest, pinnedDigest: null, format: OCI_MANIFEST }),
  },
  'spin-v2-canary': {
    // Spin canary writes os "Wasip1" (capital W)
    expected: { kind: 'wasm', runtime: 'spin', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'Wasip1' },
    build: async (p, repo, tag) => ({ digest: (await spinRegistryPush(p, repo, tag, 'Wasip1')).digest, pinnedDigest: null, format: OCI_MANIFEST }),
  },
  'spin-legacy': {
    expected: { kind: 'wasm', runtime: 'spin', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'pre-Spin-2.0' },
    build: async (p, repo, tag) => {
      const wasm = await p.pushBlob(repo, WASM_MODULE, MT.SPIN_WASM)
      const cfg = await p.pushBlob(repo, bytesOf({ spin_lock_version: 0, triggers: [], components: [{ id: 'hello' }] }), MT.SPIN_LOCKED)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [wasm] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'cncf-component': {
    // wkg oci push / wash push (component)
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'wasip2' },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, WASM_MODULE, MT.WASM)
      const cfg = await p.pushBlob(
        repo,
        bytesOf({ created: '2026-01-01T00:00:00Z', architecture: 'wasm', os: 'wasip2', layerDigests: [layer.digest], component: { exports: ['wasi:http/incoming-handler@0.2.0'], imports: [], target: null } }),
        MT.WASM_CONFIG_V0,
      )
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'cncf-module': {
    // runwasi oci-tar-builder --as-artifact (module)
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'wasip1' },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, WASM_MODULE, MT.WASM)
      const cfg = await p.pushBlob(repo, bytesOf({ architecture: 'wasm', os: 'wasip1', layerDigests: [layer.digest], component: null }), MT.WASM_CONFIG_V0)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'runwasi-oci': {
    // runwasi oci-tar-builder default: OCI config wasip1/wasm + component layer type
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: true, supported: true, evidenceIncludes: MT.RUNWASI_COMPONENT },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, WASM_MODULE, MT.RUNWASI_COMPONENT)
      const cfg = await p.pushBlob(repo, imageConfig('wasip1', 'wasm', { Entrypoint: ['wasi-demo-oci.wasm'], Labels: { 'containerd.runwasi.layers': JSON.stringify([layer.digest]) } }), MT.OCI_CONFIG)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'wasi-scratch': {
    // runwasi wasi-demo-app: tar layer with /wasi-demo-app.wasm, Entrypoint set
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: true, supported: true, evidenceIncludes: '.wasm' },
    build: async (p, repo, tag) => {
      const m = await scratchImage(p, repo, tag, {
        docker: false,
        os: 'wasip1',
        arch: 'wasm',
        files: [{ path: 'wasi-demo-app.wasm', content: WASM_MODULE, mode: 0o755 }],
        entrypoint: ['/wasi-demo-app.wasm'],
      })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'slight-scratch': {
    expected: { kind: 'wasm', runtime: 'slight', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'slightfile.toml' },
    build: async (p, repo, tag) => {
      const m = await scratchImage(p, repo, tag, {
        docker: true,
        os: 'wasi',
        arch: 'wasm',
        files: [{ path: './slightfile.toml', content: SLIGHTFILE }, { path: './app.wasm', content: WASM_MODULE }],
      })
      return { digest: m.digest, pinnedDigest: null, format: DOCKER_MANIFEST }
    },
  },
  'crun-annotated': {
    // buildah build --annotation module.wasm.image/variant=compat-smart
    expected: { kind: 'wasm', runtime: 'crun', pinned: false, hasEntrypoint: true, supported: true, evidenceIncludes: 'module.wasm.image/variant' },
    build: async (p, repo, tag) => {
      const m = await scratchImage(p, repo, tag, {
        docker: false,
        os: 'linux',
        arch: 'amd64',
        files: [{ path: 'wasi_example_main.wasm', content: WASM_MODULE }],
        entrypoint: ['/wasi_example_main.wasm'],
        annotations: { 'module.wasm.image/variant': 'compat-smart' },
      })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'wasmcloud-provider': {
    expected: { kind: 'unsupported', runtime: null, pinned: false, hasEntrypoint: null, supported: false, evidenceIncludes: 'wasmCloud' },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, gzip(bytesOf('provider archive')), MT.WASMCLOUD_PROVIDER_LAYER)
      const cfg = await p.pushBlob(repo, bytesOf({}), MT.WASMCLOUD_PROVIDER_CONFIG)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'envoy-filter': {
    expected: { kind: 'unsupported', runtime: null, pinned: false, hasEntrypoint: null, supported: false, evidenceIncludes: 'Envoy' },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, WASM_MODULE, MT.SOLO_LAYER)
      const cfg = await p.pushBlob(repo, bytesOf({ type: 'envoy_proxy', abiVersions: ['v0-4689a30309abf31aee9ae36e73d34b1bb182685f'], rootIds: ['add_header'] }), MT.SOLO_CONFIG)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'wasm-to-oci': {
    expected: { kind: 'unsupported', runtime: null, pinned: false, hasEntrypoint: null, supported: false, evidenceIncludes: 'wasm-to-oci' },
    build: async (p, repo, tag) => {
      const layer = await p.pushBlob(repo, WASM_MODULE, MT.SPIN_WASM)
      const cfg = await p.pushBlob(repo, bytesOf({}), MT.WASM_TO_OCI_CONFIG)
      const m = await p.pushImageManifest(repo, tag, { config: cfg, layers: [layer] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  linux: {
    // runnable: busybox-static; Entrypoint sh -c 'echo hello from linux; exec sleep 3600'
    expected: { kind: 'linux', runtime: null, pinned: false, hasEntrypoint: null, supported: true, evidenceIncludes: 'linux/amd64' },
    build: async (p, repo, tag) => {
      const m = await runnableImage(p, repo, tag, 'linux', { docker: true, os: 'linux', arch: 'amd64', entrypoint: LINUX_ENTRYPOINT })
      return { digest: m.digest, pinnedDigest: null, format: DOCKER_MANIFEST }
    },
  },
  'linux-index': {
    expected: { kind: 'linux', runtime: null, pinned: false, hasEntrypoint: null, supported: true, evidenceIncludes: 'no Wasm entry' },
    build: async (p, repo, tag) => {
      const amd = await scratchImage(p, repo, 'amd64', { docker: true, os: 'linux', arch: 'amd64', files: [{ path: 'app', content: ELF_STUB }], entrypoint: ['/app'] })
      const arm = await scratchImage(p, repo, 'arm64', { docker: true, os: 'linux', arch: 'arm64', files: [{ path: 'app', content: ELF_STUB }], entrypoint: ['/app'] })
      const idx = await p.pushIndex(
        repo,
        tag,
        [
          { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        ],
        DOCKER_LIST,
      )
      return { digest: idx.digest, pinnedDigest: null, format: DOCKER_LIST }
    },
  },
  'wasm-only-index': {
    // buildx --platform wasi/wasm with provenance on: wasi/wasm entry + attestation manifest
    expected: { kind: 'wasm', runtime: 'wasi', pinned: true, hasEntrypoint: true, supported: true, evidenceIncludes: 'only Wasm entries' },
    build: async (p, repo, tag) => {
      const wasm = await scratchImage(p, repo, 'wasm-entry', {
        docker: false,
        os: 'wasi',
        arch: 'wasm',
        files: [{ path: 'hello.wasm', content: WASM_MODULE }],
        entrypoint: ['/hello.wasm'],
      })
      const stmt = await p.pushBlob(repo, bytesOf({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2' }), MT.IN_TOTO)
      const acfg = await p.pushBlob(repo, bytesOf({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } }), MT.OCI_CONFIG)
      const att = await p.pushImageManifest(repo, 'attestation', { config: acfg, layers: [stmt] })
      const idx = await p.pushIndex(repo, tag, [
        { ...wasm, platform: { os: 'wasi', architecture: 'wasm' } },
        { ...att, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': wasm.digest } },
      ])
      return { digest: idx.digest, pinnedDigest: wasm.digest, format: OCI_INDEX }
    },
  },
  'mixed-index': {
    // Docker manifest list: linux/amd64 + wasi/wasm (FROM-scratch Spin)
    expected: { kind: 'wasm', runtime: 'spin', pinned: true, hasEntrypoint: false, supported: true, evidenceIncludes: 'mixed index' },
    build: async (p, repo, tag) => {
      const linux = await scratchImage(p, repo, 'linux-amd64', { docker: true, os: 'linux', arch: 'amd64', files: [{ path: 'app', content: ELF_STUB }], entrypoint: ['/app'] })
      const spin = await scratchImage(p, repo, 'wasi-wasm', {
        docker: true,
        os: 'wasi',
        arch: 'wasm',
        files: [{ path: 'spin.toml', content: SPIN_TOML }, { path: 'spin_rust_hello.wasm', content: WASM_MODULE }],
      })
      const idx = await p.pushIndex(
        repo,
        tag,
        [
          { ...linux, platform: { os: 'linux', architecture: 'amd64' } },
          { ...spin, platform: { os: 'wasi', architecture: 'wasm' } },
        ],
        DOCKER_LIST,
      )
      return { digest: idx.digest, pinnedDigest: spin.digest, format: DOCKER_LIST }
    },
  },
  'wasi-hello': {
    // runnable on the wasmtime shim: OCI config wasip1/wasm, one tar layer with /hello.wasm, Entrypoint set
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: true, supported: true, evidenceIncludes: 'entrypoint /hello.wasm' },
    build: async (p, repo, tag) => {
      const m = await runnableImage(p, repo, tag, 'wasi-hello', { docker: false, os: 'wasip1', arch: 'wasm', entrypoint: ['/hello.wasm'] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'wasi-ticker': {
    // runnable, long-running (a Deployment's pod): same packaging as wasi-hello
    expected: { kind: 'wasm', runtime: 'wasi', pinned: false, hasEntrypoint: true, supported: true, evidenceIncludes: 'entrypoint /ticker.wasm' },
    build: async (p, repo, tag) => {
      const m = await runnableImage(p, repo, tag, 'wasi-ticker', { docker: false, os: 'wasip1', arch: 'wasm', entrypoint: ['/ticker.wasm'] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
  'spin-ticker': {
    // runnable Spin-style image (the seed's Deployment on real nodes): FROM scratch, wasi/wasm, no
    // entrypoint, /spin.toml naming ticker.wasm (its own layer) and the ticker module (the cached
    // runnable layer). Classified Spin (spin.toml); the harness's shim under the Spin handler runs the
    // module spin.toml names as a WASI command (placement only: not the Spin runtime).
    expected: { kind: 'wasm', runtime: 'spin', pinned: false, hasEntrypoint: false, supported: true, evidenceIncludes: 'spin.toml' },
    build: async (p, repo, tag) => {
      const ticker = await runnableLayer('wasi-ticker')
      const manifestTar = buildTar([{ path: 'spin.toml', content: SPIN_TICKER_TOML }])
      const layers = [
        await p.pushBlob(repo, ticker.gz, MT.DOCKER_TGZ),
        await p.pushBlob(repo, gzip(manifestTar), MT.DOCKER_TGZ),
      ]
      const cfg = await p.pushBlob(repo, imageConfig('wasi', 'wasm', {}, [ticker.diffId, sha256Hex(manifestTar)]), MT.DOCKER_CONFIG)
      const m = await p.pushImageManifest(repo, tag, { mediaType: DOCKER_MANIFEST, config: cfg, layers })
      return { digest: m.digest, pinnedDigest: null, format: DOCKER_MANIFEST }
    },
  },
  pause: {
    // the sandbox image of the harness's nodes: a static C binary waiting for SIGTERM
    expected: { kind: 'linux', runtime: null, pinned: false, hasEntrypoint: null, supported: true, evidenceIncludes: 'linux/amd64' },
    build: async (p, repo, tag) => {
      const m = await runnableImage(p, repo, tag, 'pause', { docker: false, os: 'linux', arch: 'amd64', entrypoint: ['/pause'] })
      return { digest: m.digest, pinnedDigest: null, format: OCI_MANIFEST }
    },
  },
}

export interface PushSamplesOptions {
  /** Credentials when the registry needs auth for pushes. */
  credentials?: PushCredentials
  /** Repository prefix (default `samples`). */
  prefix?: string
  /** Tag (default `v1`). */
  tag?: string
  /** Only these samples (default all). */
  only?: readonly SampleName[]
}

/** Pushes every sample (or `only`) to `registryHost` (plain HTTP) and describes them. */
export async function pushSampleImages(registryHost: string, opts: PushSamplesOptions = {}): Promise<Record<SampleName, SampleImage>> {
  const pusher = new Pusher(registryHost, opts.credentials)
  const prefix = opts.prefix ?? 'samples'
  const tag = opts.tag ?? 'v1'
  const out: Partial<Record<SampleName, SampleImage>> = {}
  for (const name of opts.only ?? SAMPLE_NAMES) {
    const b = BUILDERS[name]
    const repoPath = `${prefix}/${name}`
    const r = await b.build(pusher, repoPath, tag)
    out[name] = {
      name,
      ref: `${registryHost}/${repoPath}:${tag}`,
      repository: `${registryHost}/${repoPath}`,
      digest: r.digest,
      pinnedDigest: r.pinnedDigest,
      expected: { ...b.expected, format: r.format },
    }
  }
  return out as Record<SampleName, SampleImage>
}

/** The expectations without pushing (for documentation or pure tests). */
export function sampleExpectations(): Record<SampleName, Omit<SampleExpectation, 'format'>> {
  return Object.fromEntries(SAMPLE_NAMES.map((n) => [n, BUILDERS[n].expected])) as Record<SampleName, Omit<SampleExpectation, 'format'>>
}
