import t from 'tap'
import {
  classify,
  configToFetch,
  isWasmPlatform,
  layersToPeek,
  MalformedDocumentError,
  parseManifestDocument,
  selectIndexEntry,
  type ClassifyInput,
  type LayerPeek,
  type ManifestDocument,
} from '../../../src/facts/images/classify.js'

const dg = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`
const REPO = 'registry.example.com/team/app'

const OCI_M = 'application/vnd.oci.image.manifest.v1+json'
const DOCKER_M = 'application/vnd.docker.distribution.manifest.v2+json'
const OCI_CFG = 'application/vnd.oci.image.config.v1+json'
const DOCKER_CFG = 'application/vnd.docker.container.image.v1+json'
const TGZ = 'application/vnd.oci.image.layer.v1.tar+gzip'
const DTGZ = 'application/vnd.docker.image.rootfs.diff.tar.gzip'

function manifest(config: string, layers: string[], extra: Record<string, unknown> = {}, mediaType = OCI_M): unknown {
  return {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: config, digest: dg('c'), size: 100 },
    layers: layers.map((l, i) => ({ mediaType: l, digest: dg(String(i)), size: 1000 })),
    ...extra,
  }
}

function cfg(os: string, architecture: string, inner: Record<string, unknown> = {}): unknown {
  return { os, architecture, config: inner, rootfs: { type: 'layers', diff_ids: [] } }
}

function peek(paths: Array<string | [string, Uint8Array]>): LayerPeek[] {
  return [
    {
      digest: dg('0'),
      mediaType: TGZ,
      result: {
        truncated: false,
        entries: paths.map((p) => (typeof p === 'string' ? { path: p, type: '0', size: 10 } : { path: p[0], type: '0', size: 10, head: p[1] })),
      },
    },
  ]
}

interface Case {
  name: string
  input: () => ClassifyInput
  kind: 'wasm' | 'linux' | 'unsupported' | 'malformed'
  runtime?: string
  hasEntrypoint?: boolean
  pinned?: string | null
  evidence: RegExp
}

function single(m: unknown, config?: unknown, peeks?: LayerPeek[]): () => ClassifyInput {
  return () => {
    const doc = parseManifestDocument(m) as ManifestDocument
    const input: ClassifyInput = { repository: REPO, manifest: doc }
    if (config !== undefined) input.config = config
    if (peeks !== undefined) input.peeks = peeks
    return input
  }
}

const cases: Case[] = [
  {
    name: 'CNCF component (wasip2 + component)',
    input: single(manifest('application/vnd.wasm.config.v0+json', ['application/wasm']), { architecture: 'wasm', os: 'wasip2', layerDigests: [dg('0')], component: { exports: [] } }),
    kind: 'wasm',
    runtime: 'wasi',
    hasEntrypoint: false,
    evidence: /Wasm component/,
  },
  {
    name: 'CNCF module (wasip1)',
    input: single(manifest('application/vnd.wasm.config.v0+json', ['application/wasm']), { architecture: 'wasm', os: 'wasip1', component: null }),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /Wasm module/,
  },
  {
    name: 'CNCF config without application/wasm layer',
    input: single(manifest('application/vnd.wasm.config.v0+json', ['application/octet-stream']), { os: 'wasip1' }),
    kind: 'unsupported',
    evidence: /no application\/wasm layer/,
  },
  {
    name: 'CNCF with two layers notes the Spin single-layer rule',
    input: single(manifest('application/vnd.wasm.config.v0+json', ['application/wasm', 'application/wasm']), { os: 'wasip1' }),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /single layer/,
  },
  {
    name: 'Spin >= 2.0 push',
    input: single(
      manifest(OCI_CFG, ['application/vnd.wasm.content.layer.v1+wasm', 'application/vnd.wasm.content.layer.v1+data', 'application/vnd.fermyon.spin.application.v1+config']),
      cfg('wasip1', 'wasm', { Labels: { 'com.fermyon.spin.lockedAppDigest': dg('2') } }),
    ),
    kind: 'wasm',
    runtime: 'spin',
    hasEntrypoint: false,
    evidence: /locked app/,
  },
  {
    name: 'Spin canary os "Wasip1" (case-insensitive)',
    input: single(manifest(OCI_CFG, ['application/vnd.wasm.content.layer.v1+wasm', 'application/vnd.fermyon.spin.application.v1+config']), cfg('Wasip1', 'wasm')),
    kind: 'wasm',
    runtime: 'spin',
    evidence: /os Wasip1/,
  },
  {
    name: 'Spin layers but architecture not exactly wasm',
    input: single(manifest(OCI_CFG, ['application/vnd.wasm.content.layer.v1+wasm']), cfg('wasip1', 'amd64')),
    kind: 'unsupported',
    evidence: /exactly "wasm"/,
  },
  {
    name: 'pre-2.0 Spin (locked app as config)',
    input: single(manifest('application/vnd.fermyon.spin.application.v1+config', ['application/vnd.wasm.content.layer.v1+wasm'])),
    kind: 'wasm',
    runtime: 'spin',
    hasEntrypoint: false,
    evidence: /pre-Spin-2.0/,
  },
  {
    name: 'runwasi oci-tar-builder component layer',
    input: single(manifest(OCI_CFG, ['application/vnd.bytecodealliance.wasm.component.layer.v0+wasm']), cfg('wasip1', 'wasm', { Entrypoint: ['wasi-demo-oci.wasm'] })),
    kind: 'wasm',
    runtime: 'wasi',
    hasEntrypoint: true,
    evidence: /runwasi Wasm layers/,
  },
  {
    name: 'application/wasm layer under an OCI image config (arch wasm)',
    input: single(manifest(OCI_CFG, ['application/wasm']), cfg('wasip2', 'wasm')),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /runwasi/,
  },
  {
    name: 'historic runwasi media types',
    input: single(manifest(OCI_CFG, ['application/vnd.w3c.wasm.module.v1+wasm']), cfg('wasi', 'wasm')),
    kind: 'unsupported',
    evidence: /historic/,
  },
  {
    name: 'FROM scratch spin.toml, no entrypoint (Docker v2)',
    input: single(manifest(DOCKER_CFG, [DTGZ], {}, DOCKER_M), cfg('wasi', 'wasm'), peek(['spin.toml', 'spin_rust_hello.wasm'])),
    kind: 'wasm',
    runtime: 'spin',
    hasEntrypoint: false,
    evidence: /spin\.toml/,
  },
  {
    name: 'FROM scratch slightfile.toml',
    input: single(manifest(DOCKER_CFG, [DTGZ], {}, DOCKER_M), cfg('wasi', 'wasm'), peek(['slightfile.toml', 'app.wasm'])),
    kind: 'wasm',
    runtime: 'slight',
    evidence: /slightfile\.toml/,
  },
  {
    name: 'FROM scratch .wasm entrypoint',
    input: single(manifest(OCI_CFG, [TGZ]), cfg('wasip1', 'wasm', { Entrypoint: ['/wasi-demo-app.wasm'] })),
    kind: 'wasm',
    runtime: 'wasi',
    hasEntrypoint: true,
    evidence: /entrypoint is a \.wasm module/,
  },
  {
    name: 'FROM scratch wasi/wasm32 (Docker+Wasm preview) with Cmd',
    input: single(manifest(OCI_CFG, [TGZ]), cfg('wasi', 'wasm32', { Cmd: ['/main.wasm'] })),
    kind: 'wasm',
    runtime: 'wasi',
    hasEntrypoint: true,
    evidence: /wasi\/wasm32/,
  },
  {
    name: 'FROM scratch, no entrypoint, only a .wasm file found',
    input: single(manifest(OCI_CFG, [TGZ]), cfg('wasi', 'wasm'), peek([['hello.wasm', new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])]])),
    kind: 'wasm',
    runtime: 'wasi',
    hasEntrypoint: false,
    evidence: /starts with \\0asm/,
  },
  {
    name: 'FROM scratch, no entrypoint, layers not inspected',
    input: single(manifest(OCI_CFG, [TGZ]), cfg('wasi', 'wasm')),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /not inspected/,
  },
  {
    name: 'linux/wasm (non-standard) counts as a Wasm platform',
    input: single(manifest(OCI_CFG, [TGZ]), cfg('linux', 'wasm', { Entrypoint: ['/app.wasm'] })),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /linux\/wasm/,
  },
  {
    name: 'crun annotation module.wasm.image/variant',
    input: single(manifest(OCI_CFG, [TGZ], { annotations: { 'module.wasm.image/variant': 'compat' } }), cfg('linux', 'amd64', { Entrypoint: ['/x.wasm'] })),
    kind: 'wasm',
    runtime: 'crun',
    hasEntrypoint: true,
    evidence: /module\.wasm\.image\/variant=compat/,
  },
  {
    name: 'crun annotation run.oci.handler',
    input: single(manifest(OCI_CFG, [TGZ], { annotations: { 'run.oci.handler': 'wasm-smart' } }), cfg('linux', 'amd64')),
    kind: 'wasm',
    runtime: 'crun',
    hasEntrypoint: false,
    evidence: /run\.oci\.handler=wasm-smart/,
  },
  {
    name: 'wasmCloud provider',
    input: single(manifest('application/vnd.wasmcloud.provider.archive.config', ['application/vnd.wasmcloud.provider.archive.layer.v1+par'])),
    kind: 'unsupported',
    evidence: /wasmCloud/,
  },
  {
    name: 'legacy wasmCloud actor',
    input: single(manifest('application/vnd.wasmcloud.actor.archive.config', ['application/vnd.module.wasm.content.layer.v1+wasm'])),
    kind: 'unsupported',
    evidence: /wasmCloud/,
  },
  {
    name: 'solo.io / Envoy filter',
    input: single(manifest('application/vnd.module.wasm.config.v1+json', ['application/vnd.module.wasm.content.layer.v1+wasm'])),
    kind: 'unsupported',
    evidence: /Envoy/,
  },
  {
    name: 'wasm-to-oci',
    input: single(manifest('application/vnd.wasm.config.v1+json', ['application/vnd.wasm.content.layer.v1+wasm'])),
    kind: 'unsupported',
    evidence: /wasm-to-oci/,
  },
  {
    name: 'OCI 1.1 artifact with wasm artifactType',
    input: single(manifest('application/vnd.oci.empty.v1+json', ['application/wasm'], { artifactType: 'application/vnd.bytecodealliance.component.v1+wasm' })),
    kind: 'unsupported',
    evidence: /artifactType/,
  },
  {
    name: 'OCI 1.1 non-wasm artifact',
    input: single(manifest('application/vnd.oci.empty.v1+json', ['application/vnd.cncf.notary.signature'], { artifactType: 'application/vnd.cncf.notary.signature' })),
    kind: 'linux',
    evidence: /not Wasm/,
  },
  {
    name: 'unknown config with wasm layers',
    input: single(manifest('application/x-custom', ['application/x-custom.wasm'])),
    kind: 'unsupported',
    evidence: /unknown Wasm artifact/,
  },
  {
    name: 'helm chart (unknown non-wasm config) is not Wasm',
    input: single(manifest('application/vnd.cncf.helm.config.v1+json', ['application/vnd.cncf.helm.chart.content.v1.tar+gzip'])),
    kind: 'linux',
    evidence: /not an image config/,
  },
  {
    name: 'plain linux (Docker)',
    input: single(manifest(DOCKER_CFG, [DTGZ, DTGZ], {}, DOCKER_M), cfg('linux', 'amd64', { Cmd: ['nginx'] })),
    kind: 'linux',
    evidence: /linux\/amd64/,
  },
  {
    name: 'FROM scratch with wasm platform but no layers',
    input: single(manifest(OCI_CFG, []), cfg('wasip1', 'wasm')),
    kind: 'unsupported',
    evidence: /no layers/,
  },
  {
    name: 'image config not read -> malformed',
    input: single(manifest(OCI_CFG, [TGZ])),
    kind: 'malformed',
    evidence: /manifest/,
  },
  {
    name: 'config not an object -> malformed',
    input: single(manifest(OCI_CFG, [TGZ]), 'nope'),
    kind: 'malformed',
    evidence: /manifest/,
  },
]

// ---- index cases
const wasmEntry = { mediaType: OCI_M, digest: dg('e'), size: 500, platform: { os: 'wasi', architecture: 'wasm' } }
const linuxEntry = { mediaType: OCI_M, digest: dg('f'), size: 500, platform: { os: 'linux', architecture: 'amd64' } }
const attestation = { mediaType: OCI_M, digest: dg('9'), size: 500, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }
function indexInput(entries: unknown[], entryManifest?: unknown, entryConfig?: unknown, peeks?: LayerPeek[], annotations?: Record<string, string>): () => ClassifyInput {
  return () => {
    const index = parseManifestDocument({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries, ...(annotations ? { annotations } : {}) })
    if (index.kind !== 'index') throw new Error('not index')
    const input: ClassifyInput = { repository: REPO, index }
    if (entryManifest !== undefined) {
      input.manifest = parseManifestDocument(entryManifest) as ManifestDocument
      input.manifestDigest = dg('e')
    }
    if (entryConfig !== undefined) input.config = entryConfig
    if (peeks !== undefined) input.peeks = peeks
    return input
  }
}

cases.push(
  {
    name: 'Wasm-only index (with attestation) pins the entry',
    input: indexInput([wasmEntry, attestation], manifest(OCI_CFG, [TGZ]), cfg('wasi', 'wasm', { Entrypoint: ['/h.wasm'] })),
    kind: 'wasm',
    runtime: 'wasi',
    pinned: `${REPO}@${dg('e')}`,
    evidence: /only Wasm entries/,
  },
  {
    name: 'mixed index pins the Wasm entry',
    input: indexInput([linuxEntry, wasmEntry], manifest(DOCKER_CFG, [DTGZ], {}, DOCKER_M), cfg('wasi', 'wasm'), peek(['spin.toml'])),
    kind: 'wasm',
    runtime: 'spin',
    pinned: `${REPO}@${dg('e')}`,
    evidence: /mixed index/,
  },
  {
    name: 'index entry platform wasip2/wasm with CNCF artifact',
    input: indexInput(
      [{ ...wasmEntry, platform: { os: 'WASIP2', architecture: 'wasm' } }],
      manifest('application/vnd.wasm.config.v0+json', ['application/wasm']),
      { os: 'wasip2', component: {} },
    ),
    kind: 'wasm',
    runtime: 'wasi',
    pinned: `${REPO}@${dg('e')}`,
    evidence: /WASIP2\/wasm/,
  },
  {
    name: 'linux-only index',
    input: indexInput([linuxEntry, { ...linuxEntry, digest: dg('d'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]),
    kind: 'linux',
    evidence: /linux\/arm64\/v8/,
  },
  {
    name: 'index annotated for crun',
    input: indexInput([linuxEntry], undefined, undefined, undefined, { 'module.wasm.image/variant': 'compat-smart' }),
    kind: 'wasm',
    runtime: 'crun',
    pinned: null,
    evidence: /crun/,
  },
  {
    name: 'index Wasm entry whose content has nothing Wasm',
    input: indexInput([wasmEntry], manifest(OCI_CFG, [TGZ]), cfg('linux', 'amd64')),
    kind: 'wasm',
    runtime: 'wasi',
    evidence: /index entry platform wasi\/wasm/,
  },
)

for (const c of cases) {
  t.test(c.name, async (t) => {
    const v = classify(c.input())
    t.equal(v.kind, c.kind, JSON.stringify(v))
    t.ok(v.evidence.length > 0, 'has evidence')
    t.match(v.evidence.join('\n'), c.evidence)
    if (v.kind === 'wasm') {
      if (c.runtime !== undefined) t.equal(v.runtime, c.runtime)
      if (c.hasEntrypoint !== undefined) t.equal(v.hasEntrypoint, c.hasEntrypoint)
      if (c.pinned !== undefined) t.equal(v.pinnedImage, c.pinned)
    }
  })
}

t.test('classify is pure: same input, same output; input not mutated', async (t) => {
  for (const c of cases) {
    const input = c.input()
    const before = JSON.stringify(input)
    t.same(classify(input), classify(input))
    t.equal(JSON.stringify(input), before)
  }
})

t.test('isWasmPlatform', async (t) => {
  const table: Array<[Record<string, string> | undefined, boolean]> = [
    [{ os: 'wasi', architecture: 'wasm' }, true],
    [{ os: 'wasip1', architecture: 'wasm' }, true],
    [{ os: 'Wasip1', architecture: 'wasm' }, true],
    [{ os: 'wasip2', architecture: 'wasm' }, true],
    [{ os: 'wasi', architecture: 'wasm32' }, true],
    [{ os: 'linux', architecture: 'wasm' }, true],
    [{ os: 'linux', architecture: 'wasm64' }, true],
    [{ os: 'linux', architecture: 'amd64' }, false],
    [{ os: 'windows', architecture: 'arm64' }, false],
    [{}, false],
    [undefined, false],
  ]
  for (const [p, want] of table) t.equal(isWasmPlatform(p), want, JSON.stringify(p))
})

t.test('selectIndexEntry prefers WASI os + wasm arch and skips attestations', async (t) => {
  const idx = parseManifestDocument({
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [attestation, { ...linuxEntry, digest: dg('1'), platform: { os: 'linux', architecture: 'wasm' } }, wasmEntry],
  })
  if (idx.kind !== 'index') throw new Error('not index')
  const sel = selectIndexEntry(idx)
  t.equal(sel.entry?.digest, dg('e'))
  t.equal(sel.wasmEntries.length, 2)
  t.equal(sel.otherEntries.length, 0, 'attestation is not counted as another platform')
})

t.test('parseManifestDocument', async (t) => {
  t.equal(parseManifestDocument({ manifests: [] }).kind, 'index', 'shape decides when mediaType missing')
  t.equal(parseManifestDocument({ config: { mediaType: OCI_CFG, digest: dg('c'), size: 1 }, layers: [] }).kind, 'manifest')
  t.equal(parseManifestDocument({ manifests: [] }, 'application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8').mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json')
  t.throws(() => parseManifestDocument('x'), MalformedDocumentError)
  t.throws(() => parseManifestDocument(null), MalformedDocumentError)
  t.throws(() => parseManifestDocument({ schemaVersion: 1, fsLayers: [] }), /schema 1/)
  t.throws(() => parseManifestDocument({ mediaType: OCI_M, config: { digest: 'nope' }, layers: [] }), /digest/)
  t.throws(() => parseManifestDocument({ mediaType: 'application/vnd.oci.image.index.v1+json', manifests: 'x' }), /manifests array/)
  t.throws(() => parseManifestDocument({ hello: 1 }), /unrecognised/)
})

t.test('configToFetch and layersToPeek', async (t) => {
  const budget = { maxLayerBytes: 1500, maxTotalBytes: 2500 }
  const m = parseManifestDocument(manifest(OCI_CFG, [TGZ, TGZ, TGZ])) as ManifestDocument
  t.equal(configToFetch(m)?.digest, dg('c'))
  t.equal(configToFetch(parseManifestDocument(manifest('application/vnd.wasmcloud.provider.archive.config', [])) as ManifestDocument), undefined)
  t.equal(configToFetch(parseManifestDocument(manifest('application/vnd.wasm.config.v0+json', [])) as ManifestDocument)?.digest, dg('c'))
  const peekList = layersToPeek(m, cfg('wasi', 'wasm'), budget)
  t.same(
    peekList.map((d) => d.digest),
    [dg('2'), dg('1')],
    'topmost first, within the total budget',
  )
  t.same(layersToPeek(m, cfg('wasi', 'wasm', { Entrypoint: ['/a.wasm'] }), budget), [], 'entrypoint decides: no peek')
  t.same(layersToPeek(m, cfg('linux', 'amd64'), budget), [], 'linux: no peek')
  t.equal(layersToPeek(m, cfg('linux', 'amd64'), budget, { os: 'wasi', architecture: 'wasm' }).length, 2, 'index platform hint counts')
  const big = parseManifestDocument({ ...(manifest(OCI_CFG, [TGZ]) as object), layers: [{ mediaType: TGZ, digest: dg('0'), size: 999_999 }] }) as ManifestDocument
  t.same(layersToPeek(big, cfg('wasi', 'wasm'), budget), [], 'large layers are not opened')
  const wasmLayers = parseManifestDocument(manifest(OCI_CFG, ['application/vnd.wasm.content.layer.v1+wasm'])) as ManifestDocument
  t.same(layersToPeek(wasmLayers, cfg('wasi', 'wasm'), budget), [], 'Wasm layers: nothing to peek')
})
