/** One-shot list of every stored workload (the `audit` command): the same kinds and trimming as the controller. */
import { WasmAdmissionError } from '../errors.js'
import { describeAnswer, type KubeApi } from './kube-api.js'
import { WORKLOAD_KINDS, summarizeWorkload, type StoredWorkload } from './stored-workload.js'

/** Lists each kind (paginated) and returns the trimmed workloads, sorted by key. Throws WA_ERR_AUDIT_LIST. */
export async function listWorkloads(api: KubeApi, opts: { namespace?: string | undefined; pageSize?: number } = {}): Promise<StoredWorkload[]> {
  const out: StoredWorkload[] = []
  for (const kind of WORKLOAD_KINDS) {
    const path = opts.namespace ? kind.path.replace(/\/([a-z]+)$/, `/namespaces/${encodeURIComponent(opts.namespace)}/$1`) : kind.path
    let cont = ''
    do {
      const res = await api.request('GET', path, { query: { limit: String(opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) } })
      if (res.status !== 200) throw new WasmAdmissionError('WA_ERR_AUDIT_LIST', [kind.resource, describeAnswer(res)])
      const body = res.body as { items?: unknown[]; metadata?: { continue?: string } }
      for (const item of body.items ?? []) {
        const w = summarizeWorkload(kind, item)
        if (w) out.push(w)
      }
      cont = body.metadata?.continue ?? ''
    } while (cont)
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}
