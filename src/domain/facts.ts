/**
 * The facts the decision reads. Facts are gathered before decide() runs; a failed or
 * slow lookup is itself a fact (`unknown` with a reason), never an exception.
 */
import type { PodScheduling, Toleration } from './kube.js'
import type { ShimLabel } from './policy.js'
import type { Readiness } from './readiness.js'

/** Runtime families (docs/wasm-oci.md §6): which shim kind an image needs. */
export const RUNTIME_FAMILIES = ['spin', 'slight', 'wasi', 'crun'] as const
export type RuntimeFamily = (typeof RUNTIME_FAMILIES)[number]

interface ImageFactBase {
  /** The image string exactly as written in the pod spec. */
  image: string
  /** Which media types, fields or files decided the verdict, for humans. */
  evidence: string[]
}

/** How a Wasm image is packaged: what decides which handlers can run it (src/domain/handler-table.ts). */
export type WasmPackaging = 'spin-app' | 'wasm-component' | 'wasm-artifact' | 'runwasi-layers' | 'wasm-file' | 'slight-app' | 'crun-annotated'

/** A Wasm workload a pod can run. */
export interface WasmImageFact extends ImageFactBase {
  kind: 'wasm'
  /** Digest the reference resolved to (index digest when the reference is an index). */
  digest: string
  runtime: RuntimeFamily
  packaging: WasmPackaging
  /** `repository@sha256:...` of the Wasm manifest when it is an entry of an index, else null. */
  pinnedImage: string | null
  /** False when the image config has neither Entrypoint nor Cmd (FROM-scratch Spin images). */
  hasEntrypoint: boolean
}

/** An ordinary Linux container image. */
export interface LinuxImageFact extends ImageFactBase {
  kind: 'linux'
  digest: string
}

/** A Wasm artifact that no pod can run (wasmCloud provider, Envoy filter, wasm-to-oci module). */
export interface UnsupportedImageFact extends ImageFactBase {
  kind: 'unsupported'
  digest: string
}

/** Unknown: the registry could not be read in time, or the reference is not allowed. */
export interface UnknownImageFact extends ImageFactBase {
  kind: 'unknown'
  /** Stable error code (see docs/errors.md), e.g. WA_ERR_IMAGE_DEADLINE. */
  code: string
  /** Human-readable reason; never contains credentials. */
  reason: string
}

export type ImageFact = WasmImageFact | LinuxImageFact | UnsupportedImageFact | UnknownImageFact

/**
 * Where a review's deadline signal comes from: read only when a lookup has to wait (the webhook's
 * lease makes the signal on first read; a plain `{ signal }` does for everything else).
 */
export interface DeadlineSource {
  readonly signal: AbortSignal
}

/** What an image lookup may use besides the reference. */
export interface ImageLookupContext {
  /** Aborted at the request's deadline. */
  signal: AbortSignal
  namespace: string
  /** Names of the pod's imagePullSecrets. */
  pullSecretNames: string[]
  /** The pod's ServiceAccount name (its imagePullSecrets count too). */
  serviceAccountName: string
}

/** Image facts source: implemented by the registry client + cache (src/facts/images). */
export interface ImageFactsSource {
  lookup(image: string, ctx: ImageLookupContext): Promise<ImageFact>
  /**
   * What lookup() would answer at once from memory (counted as it would count it), or undefined when
   * lookup() has to go to the registry. Optional: lets the warm path skip the deadline race.
   */
  cached?(image: string, ctx: Omit<ImageLookupContext, 'signal'>): ImageFact | undefined
  readiness(): Readiness
  close?(): Promise<void>
}

// ---------------------------------------------------------------- cluster facts

/** Where a DaemonSet would put pods: nodes its template targets, and those that cannot run the RuntimeClass. */
export interface Placement {
  /** Nodes the template's nodeSelector, affinity and tolerations target. */
  targeted: number
  /** Targeted nodes without the shim or not matching the RuntimeClass nodeSelector. */
  ineligible: number
  /** Some of those nodes' names, sorted. */
  ineligibleNames: string[]
}

export interface RuntimeClassInfo {
  name: string
  handler: string
  nodeSelector: Record<string, string>
  tolerations: Toleration[]
  /** spec.overhead.podFixed, when set. */
  overhead?: Record<string, string>
  /**
   * The class has a `scheduling` object, even an empty one: the RuntimeClass admission plugin then
   * merges the pod's tolerations (and so drops redundant ones) whatever the object holds. Absent:
   * known only from nodeSelector / tolerations being non-empty.
   */
  hasScheduling?: boolean
}

/** The outcome of "which nodes could run this pod under this RuntimeClass", scheduler style. */
export interface Eligibility {
  runtimeClass: string
  handler: string
  totalNodes: number
  eligibleNodes: number
  /** Names of (some) eligible nodes, for messages and the `nodes` CLI. */
  eligibleNodeNames: string[]
  /** Reason -> count for nodes that are not eligible, e.g. "lack the spin shim" -> 2. */
  reasons: Array<{
    reason: string
    count: number
    /**
     * Stable reason code (src/facts/cluster/eligibility.ts REASON_CODES: noShim, rcNodeSelector, cordoned,
     * rcNodeSelector, podNodeSelector, podAffinity, taint; or runtimeClassNotFound).
     */
    code?: string
    /** Grouping detail within the code: the taint (`k=v:NoSchedule`) or selector (`k=v`), else ''. */
    key?: string
  }>
  /** e.g. `0/6 nodes can run RuntimeClass spin-test (handler spin): 2 lack the spin shim, ...` */
  message: string
}

/**
 * A read-only view of the cluster at one moment. Every method is a pure read of memory
 * (informer caches); none may call the API server.
 */
export interface ClusterFacts {
  /** False when there is no cluster knowledge at all (the placeholder source). */
  known: boolean
  /**
   * True when this view never changes (a snapshot of the informers' index: a change hands out a new
   * view). Answers derived from it may then be remembered for as long as the view lives (decide's
   * automatic RuntimeClass choice does, with a frozen policy).
   */
  readonly immutable?: boolean
  runtimeClass(name: string): RuntimeClassInfo | undefined
  runtimeClasses(): RuntimeClassInfo[]
  /** Labels of a namespace, undefined when the namespace is not (yet) known. */
  namespaceLabels(name: string): Record<string, string> | undefined
  /**
   * Which nodes could run a pod with this scheduling under the RuntimeClass, shims detected under
   * `policy` (the caller's: a snapshot built under another policy answers for this one, never for its own).
   */
  eligibility(runtimeClassName: string, pod: PodScheduling, policy: ShimPolicy): Eligibility
  /**
   * For DaemonSets, whose controller places a pod on every targeted node regardless of the
   * RuntimeClass: targeted nodes that cannot run it. Scans every node (DaemonSet writes are rare).
   */
  placement(runtimeClassName: string, pod: PodScheduling, policy: ShimPolicy): Placement
}

/** What shim detection reads from the policy (a whole Policy fits): an explicit input of every eligibility question. */
export interface ShimPolicy {
  trustRuntimeClassNodeSelector: boolean
  shimLabels: ShimLabel[]
}

/** Cluster facts source: implemented by informers (src/facts/cluster). */
export interface ClusterFactsSource {
  snapshot(): ClusterFacts
  readiness(): Readiness
  start?(): Promise<void>
  stop?(): Promise<void>
}

/** Everything decide() reads about the world: gathered by src/facts/gather.ts, read by src/policy/decide.ts. */
export interface Facts {
  /** Facts per image string as written in the spec. A missing entry means "not inspected". */
  images: ReadonlyMap<string, ImageFact>
  cluster: ClusterFacts
}
