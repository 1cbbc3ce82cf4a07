import { containersOf, stringMap, type PodTemplate } from '../domain/workload.js'
import type { ClusterFacts, ClusterFactsSource, DeadlineSource, ImageFact, ImageFactsSource, ImageLookupContext } from '../domain/facts.js'
import type { Facts } from '../domain/facts.js'
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

/**
 * Gathers the facts decide() needs: every image through the image source (concurrently, cut at the
 * deadline, failures recorded as unknown), and the cluster snapshot (memory only).
 */
export async function gatherFacts(input: GatherInput, images: ImageFactsSource, cluster: ClusterFactsSource, signal: AbortSignal): Promise<Facts> {
  return gatherFactsNowOrLater(input, images, cluster, { signal })
}

/**
 * gatherFacts, answered at once (a value, not a promise) when every image is in the image cache:
 * the warm path of a review then allocates no promise and waits for no microtask, and never reads
 * its deadline's signal (a lease makes it on first read: src/http/deadline-signals.ts).
 */
export function gatherFactsNowOrLater(input: GatherInput, images: ImageFactsSource, cluster: ClusterFactsSource, deadline: DeadlineSource): Facts | Promise<Facts> {
  const snapshot = cluster.snapshot()
  const ctx = {
    namespace: input.namespace,
    pullSecretNames: Array.isArray(input.template.spec['imagePullSecrets'])
      ? (input.template.spec['imagePullSecrets'] as unknown[]).map((s) => stringMap(s)['name'] ?? '').filter((n) => n !== '')
      : [],
    serviceAccountName: typeof input.template.spec['serviceAccountName'] === 'string' ? (input.template.spec['serviceAccountName'] as string) : 'default',
  }
  const list = imagesOf(input.template)
  // Warm path: every image answered from memory, so no deadline race (no abort listener, no promises).
  // Images answered here are not looked up again below (each is counted once in the cache metrics).
  const known = new Map<string, ImageFact>()
  if (images.cached !== undefined) {
    for (const image of list) {
      const fact = images.cached(image, ctx)
      if (fact === undefined) break
      known.set(image, fact)
    }
    if (known.size === list.length) return { images: known, cluster: snapshot }
  }
  const signal = deadline.signal
  return lookUpTheRest(list, known, { ...ctx, signal }, images, snapshot, signal)
}

async function lookUpTheRest(list: string[], known: ReadonlyMap<string, ImageFact>, ctx: ImageLookupContext, images: ImageFactsSource, snapshot: ClusterFacts, signal: AbortSignal): Promise<Facts> {
  const aborted = new Promise<'deadline'>((resolve) => {
    if (signal.aborted) resolve('deadline')
    else signal.addEventListener('abort', () => resolve('deadline'), { once: true })
  })
  const entries = await Promise.all(
    list.map(async (image): Promise<[string, ImageFact]> => {
      const memo = known.get(image)
      if (memo !== undefined) return [image, memo]
      const lookup = images.lookup(image, ctx).catch((e: unknown) => failedFact(image, e))
      const fact = await Promise.race([lookup, aborted])
      return [image, fact === 'deadline' ? deadlineFact(image) : fact]
    }),
  )
  return { images: new Map(entries), cluster: snapshot }
}
