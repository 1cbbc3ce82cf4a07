/**
 * Facts sources that know nothing, and say so. Used when no registry inspection or no cluster
 * access is configured: images come out `unknown` and cluster checks are skipped (known=false).
 */
import type { ClusterFacts, ClusterFactsSource, Eligibility, ImageFact, ImageFactsSource } from '../domain/facts.js'
import type { Readiness } from '../domain/readiness.js'

export class UninspectedImages implements ImageFactsSource {
  constructor(private readonly why = 'image inspection is not configured') {}
  async lookup(image: string): Promise<ImageFact> {
    return { kind: 'unknown', image, code: 'WA_ERR_IMAGE_NOT_INSPECTED', reason: this.why, evidence: [] }
  }
  readiness(): Readiness {
    return { ready: true, detail: this.why }
  }
}

const UNKNOWN_CLUSTER: ClusterFacts = {
  known: false,
  runtimeClass: () => undefined,
  runtimeClasses: () => [],
  namespaceLabels: () => undefined,
  eligibility: (runtimeClass: string): Eligibility => ({
    runtimeClass,
    handler: '',
    totalNodes: 0,
    eligibleNodes: 0,
    eligibleNodeNames: [],
    reasons: [],
    message: 'cluster facts are not available',
  }),
  placement: () => ({ targeted: 0, ineligible: 0, ineligibleNames: [] }),
}

export class NoClusterFacts implements ClusterFactsSource {
  snapshot(): ClusterFacts {
    return UNKNOWN_CLUSTER
  }
  readiness(): Readiness {
    return { ready: true, detail: 'no cluster access configured: RuntimeClass and node checks are skipped' }
  }
}
