/** What a component reports to /readyz: the certificate source, the policy store, the fact sources. */
export interface Readiness {
  ready: boolean
  /** Short human-readable state, shown by /readyz. */
  detail: string
}
