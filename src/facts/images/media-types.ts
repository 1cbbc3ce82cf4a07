/** Media types: docs/wasm-oci.md (with the public source of each) and the OCI / Docker specs. */

export const MT = {
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_SCHEMA1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_SCHEMA1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',

  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',

  OCI_LAYER_TAR: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_TAR_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_TAR_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDIST_TAR_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DOCKER_LAYER_TAR_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_LAYER_FOREIGN: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',

  // CNCF Wasm OCI artifact
  WASM_CONFIG_V0: 'application/vnd.wasm.config.v0+json',
  WASM_LAYER: 'application/wasm',
  // Spin
  SPIN_LOCKED_APP: 'application/vnd.fermyon.spin.application.v1+config',
  SPIN_WASM_LAYER: 'application/vnd.wasm.content.layer.v1+wasm',
  SPIN_DATA_LAYER: 'application/vnd.wasm.content.layer.v1+data',
  SPIN_ARCHIVE_LAYER: 'application/vnd.wasm.content.bundle.v1.tar+gzip',
  // runwasi oci-tar-builder
  RUNWASI_COMPONENT_LAYER: 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
  RUNWASI_HISTORIC_MODULE: 'application/vnd.w3c.wasm.module.v1+wasm',
  RUNWASI_HISTORIC_COMPONENT: 'application/vnd.wasm.component.v1+wasm',
  RUNWASI_HISTORIC_CONFIG: 'application/vnd.wasm.component.config.v1+json',
  // not pod images
  WASM_TO_OCI_CONFIG: 'application/vnd.wasm.config.v1+json',
  SOLO_CONFIG: 'application/vnd.module.wasm.config.v1+json',
  SOLO_LAYER: 'application/vnd.module.wasm.content.layer.v1+wasm',
  WASMCLOUD_ACTOR_CONFIG: 'application/vnd.wasmcloud.actor.archive.config',
  WASMCLOUD_PROVIDER_CONFIG: 'application/vnd.wasmcloud.provider.archive.config',
  WASMCLOUD_PROVIDER_LAYER: 'application/vnd.wasmcloud.provider.archive.layer.v1+par',
  BYTECODEALLIANCE_COMPONENT_ARTIFACT: 'application/vnd.bytecodealliance.component.v1+wasm',
} as const

/** The Accept header for manifest requests: all four kinds (decision rule 1). */
export const MANIFEST_ACCEPT = [MT.OCI_INDEX, MT.OCI_MANIFEST, MT.DOCKER_LIST, MT.DOCKER_MANIFEST].join(', ')

export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([MT.OCI_INDEX, MT.DOCKER_LIST])
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([MT.OCI_MANIFEST, MT.DOCKER_MANIFEST])
export const IMAGE_CONFIG_MEDIA_TYPES: ReadonlySet<string> = new Set([MT.OCI_CONFIG, MT.DOCKER_CONFIG])

export const TAR_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MT.OCI_LAYER_TAR,
  MT.OCI_LAYER_TAR_GZIP,
  MT.OCI_LAYER_NONDIST_TAR_GZIP,
  MT.DOCKER_LAYER_TAR_GZIP,
  MT.DOCKER_LAYER_FOREIGN,
  MT.OCI_LAYER_TAR_ZSTD,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
])

/** Layers the Spin shim reads (containerd-shim-spin constants.rs). */
export const SPIN_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MT.SPIN_WASM_LAYER,
  MT.SPIN_DATA_LAYER,
  MT.SPIN_ARCHIVE_LAYER,
  MT.SPIN_LOCKED_APP,
])

/** Layers the runwasi shims load when the config architecture is `wasm`. */
export const RUNWASI_LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([MT.RUNWASI_COMPONENT_LAYER, MT.WASM_LAYER])

export const WASM_OS = new Set(['wasi', 'wasip1', 'wasip2'])
export const WASM_ARCH = new Set(['wasm', 'wasm32', 'wasm64'])

/** crun-style annotations (manifest level). */
export const CRUN_ANNOTATIONS = ['module.wasm.image/variant', 'run.oci.handler'] as const

export const SPIN_LOCKED_APP_LABEL = 'com.fermyon.spin.lockedAppDigest'
