import { containersOf, stringMap, type PodTemplate } from '../admission/workload.js'
import type { ClusterFacts, ClusterFactsSource, Eligibility, ImageFact, ImageFactsSource, PodScheduling, RuntimeClassInfo } from './types.js'
import type { Facts } from '../policy/decide.js'
import { formatMessage } from '../errors.js'

export interface GatherInput {
  namespace: string
  template: PodTemplate
}

/** The images of a pod template, each once. */
export function imagesOf(template: PodTemplate): string[] {
  return [...new Set(containersOf(template.spec).map((c) => c.image).filter((i) => i !== ''))]
}

function deadlineFact(image: string): ImageFact {
  return { kind: 'unknown', image, code: 'WA_ERR_IMAGE_DEADLINE', reason: formatMessage('WA_ERR_IMAGE_DEADLINE', [image]), evidence: [] }
}

function failedFact(image: string, e: unknown): ImageFact {
  return { kind: 'unknown', image, code: 'WA_ERR_IMAGE_REGISTRY', reason: formatMessage('WA_ERR_IMAGE_REGISTRY', [image, (e as Error)?.message ?? String(e)]), evidence: [] }
}

const memoized = new WeakMap<ClusterFacts, ClusterFacts>()
/** decide() asks about one scheduling object for several RuntimeClasses: serialise it once. */
const schedulingKeys = new WeakMap<PodScheduling, string>()
function schedulingKey(pod: PodScheduling): string {
  let k = schedulingKeys.get(pod)
  if (k === undefined) {
    k = JSON.stringify(pod)
    schedulingKeys.set(pod, k)
  }
  return k
}
const MEMO_LIMIT = 1024

/**
 * The cluster snapshot with eligibility() and runtimeClasses() remembered for as long as the
 * snapshot lives. A snapshot is immutable (the index is copy-on-write and hands out a new one after
 * a change), and reviews repeat: the pods of one workload, with one scheduling, ask the same
 * questions. Eligibility walks every candidate node of a RuntimeClass, and the automatic choice asks
 * it for every RuntimeClass of the family, so without this a review costs O(nodes) (5,000 nodes:
 * docs/benchmarks.md); with it, O(1) after the first review of a shape.
 */
export function memoizedFacts(snapshot: ClusterFacts): ClusterFacts {
  let m = memoized.get(snapshot)
  if (m !== undefined) return m
  const answers = new Map<string, Eligibility>()
  let rcs: RuntimeClassInfo[] | undefined
  // The snapshot's own methods and fields, through the prototype; these two are overridden.
  m = Object.create(snapshot, {
    eligibility: {
      value(runtimeClassName: string, pod: PodScheduling): Eligibility {
        const key = `${runtimeClassName}\u0000${schedulingKey(pod)}`
        let e = answers.get(key)
        if (e === undefined) {
          e = snapshot.eligibility(runtimeClassName, pod)
          if (answers.size >= MEMO_LIMIT) answers.clear()
          answers.set(key, e)
        }
        return e
      },
    },
    runtimeClasses: {
      value(): RuntimeClassInfo[] {
        rcs ??= snapshot.runtimeClasses()
        return rcs
      },
    },
  }) as ClusterFacts
  memoized.set(snapshot, m)
  return m
}

/**
 * Gathers the facts decide() needs: every image through the image source (concurrently, cut at the
 * deadline, failures recorded as unknown), and the cluster snapshot (memory only).
 */
export async function gatherFacts(input: GatherInput, images: ImageFactsSource, cluster: ClusterFactsSource, signal: AbortSignal): Promise<Facts> {
  const snapshot = memoizedFacts(cluster.snapshot())
  const ctx = {
    signal,
    namespace: input.namespace,
    pullSecretNames: Array.isArray(input.template.spec['imagePullSecrets'])
      ? (input.template.spec['imagePullSecrets'] as unknown[]).map((s) => stringMap(s)['name'] ?? '').filter((n) => n !== '')
      : [],
    serviceAccountName: typeof input.template.spec['serviceAccountName'] === 'string' ? (input.template.spec['serviceAccountName'] as string) : 'default',
  }
  const aborted = new Promise<'deadline'>((resolve) => {
    if (signal.aborted) resolve('deadline')
    else signal.addEventListener('abort', () => resolve('deadline'), { once: true })
  })
  const entries = await Promise.all(
    imagesOf(input.template).map(async (image): Promise<[string, ImageFact]> => {
      const lookup = images.lookup(image, ctx).catch((e: unknown) => failedFact(image, e))
      const fact = await Promise.race([lookup, aborted])
      return [image, fact === 'deadline' ? deadlineFact(image) : fact]
    }),
  )
  return { images: new Map(entries), cluster: snapshot }
}
