import { parseArgs } from 'node:util'
import { WasmAdmissionError } from '../errors.js'

/** One setting of `serve`: its flag, environment variable, default and documentation (single source). */
interface Setting {
  flag: string
  env: string
  type: 'string' | 'boolean' | 'integer'
  default: string | boolean | number | undefined
  doc: string
}

export const SERVE_SETTINGS = {
  port: { flag: 'port', env: 'WASM_ADMISSION_PORT', type: 'integer', default: 8443, doc: 'HTTPS port of /mutate and /validate (HTTP/2 and HTTP/1.1)' },
  host: { flag: 'host', env: 'WASM_ADMISSION_HOST', type: 'string', default: '0.0.0.0', doc: 'address both listeners bind to' },
  healthPort: { flag: 'health-port', env: 'WASM_ADMISSION_HEALTH_PORT', type: 'integer', default: 8080, doc: 'plain-HTTP port of /livez, /readyz and /metrics' },
  tlsDir: { flag: 'tls-dir', env: 'WASM_ADMISSION_TLS_DIR', type: 'string', default: '/etc/wasm-admission/tls', doc: 'directory holding tls.crt and tls.key; reloaded when they change' },
  policy: { flag: 'policy', env: 'WASM_ADMISSION_POLICY', type: 'string', default: undefined, doc: 'policy YAML file; reloaded when it changes (default: built-in policy)' },
  webhookTimeoutSeconds: { flag: 'webhook-timeout-seconds', env: 'WASM_ADMISSION_WEBHOOK_TIMEOUT_SECONDS', type: 'integer', default: 5, doc: 'timeoutSeconds of the webhook configurations; each review must answer within it' },
  deadlineMarginMs: { flag: 'deadline-margin-ms', env: 'WASM_ADMISSION_DEADLINE_MARGIN_MS', type: 'integer', default: undefined, doc: 'safety margin subtracted from the webhook timeout to get the per-review deadline (default: 20% of the timeout, at least 200 ms, at most 1000 ms)' },
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG', type: 'string', default: undefined, doc: 'kubeconfig for the cluster facts; a list (a:b) is merged as kubectl merges KUBECONFIG (default: ~/.kube/config, else the in-cluster service account)' },
  noCluster: { flag: 'no-cluster', env: 'WASM_ADMISSION_NO_CLUSTER', type: 'boolean', default: false, doc: 'run without cluster facts (RuntimeClass and node checks skipped)' },
  noRegistry: { flag: 'no-registry', env: 'WASM_ADMISSION_NO_REGISTRY', type: 'boolean', default: false, doc: 'run without image inspection (every image is unknown)' },
  registryConfig: { flag: 'registry-config', env: 'WASM_ADMISSION_REGISTRY_CONFIG', type: 'string', default: undefined, doc: 'YAML with registry mirrors, CA bundles, plain-HTTP registries and allowed private hosts' },
  registryCredentials: { flag: 'registry-credentials', env: 'WASM_ADMISSION_REGISTRY_CREDENTIALS', type: 'string', default: undefined, doc: 'dockerconfigjson file with registry credentials mounted by the operator' },
  readPullSecrets: { flag: 'read-pull-secrets', env: 'WASM_ADMISSION_READ_PULL_SECRETS', type: 'boolean', default: false, doc: "use the pods' imagePullSecrets and ServiceAccount secrets (needs get on secrets and serviceaccounts)" },
  shutdownDelaySeconds: { flag: 'shutdown-delay-seconds', env: 'WASM_ADMISSION_SHUTDOWN_DELAY_SECONDS', type: 'integer', default: 5, doc: 'after SIGTERM, time /readyz reports not ready before the connections are drained' },
  shutdownDrainSeconds: { flag: 'shutdown-drain-seconds', env: 'WASM_ADMISSION_SHUTDOWN_DRAIN_SECONDS', type: 'integer', default: 15, doc: 'after the shutdown delay, longest time kept-alive connections get to close on an answer (HTTP/1.1 Connection: close, HTTP/2 GOAWAY) before idle ones are closed' },
  pollIntervalSeconds: { flag: 'poll-interval-seconds', env: 'WASM_ADMISSION_POLL_INTERVAL_SECONDS', type: 'integer', default: 10, doc: 'fallback poll interval for certificate and policy file changes' },
  reusePort: { flag: 'reuse-port', env: 'WASM_ADMISSION_REUSE_PORT', type: 'boolean', default: false, doc: 'bind the webhook port with SO_REUSEPORT so several processes can share it (Linux)' },
  drift: { flag: 'drift', env: 'WASM_ADMISSION_DRIFT', type: 'boolean', default: false, doc: 'run the drift controller: evaluate stored workloads in the background, publish PolicyReports and Events from the Lease holder (docs/drift.md)' },
  driftReports: { flag: 'drift-reports', env: 'WASM_ADMISSION_DRIFT_REPORTS', type: 'string', default: 'true', doc: 'with --drift: write a wgpolicyk8s.io/v1alpha2 PolicyReport per namespace (true or false)' },
  driftEvents: { flag: 'drift-events', env: 'WASM_ADMISSION_DRIFT_EVENTS', type: 'string', default: 'true', doc: "with --drift: create an Event on a workload when its verdict changes (true or false)" },
  driftNamespace: { flag: 'drift-namespace', env: 'WASM_ADMISSION_DRIFT_NAMESPACE', type: 'string', default: 'wasm-admission', doc: "with --drift: namespace of the drift Lease (the release namespace; it is also never evaluated)" },
  driftLeaseName: { flag: 'drift-lease-name', env: 'WASM_ADMISSION_DRIFT_LEASE_NAME', type: 'string', default: 'wasm-admission-drift', doc: 'with --drift: name of the coordination.k8s.io Lease that elects the one writer' },
  driftIdentity: { flag: 'drift-identity', env: 'WASM_ADMISSION_DRIFT_IDENTITY', type: 'string', default: undefined, doc: 'with --drift: this replica\'s identity in the Lease (default: $HOSTNAME and a random suffix)' },
  driftExcludeNamespaces: { flag: 'drift-exclude-namespaces', env: 'WASM_ADMISSION_DRIFT_EXCLUDE_NAMESPACES', type: 'string', default: 'kube-system,kube-public,kube-node-lease', doc: 'with --drift: comma-separated namespaces never evaluated (those the webhook configurations exclude)' },
  driftDebounceMs: { flag: 'drift-debounce-ms', env: 'WASM_ADMISSION_DRIFT_DEBOUNCE_MS', type: 'integer', default: 1000, doc: 'with --drift: quiet time after a change before the affected workloads are evaluated' },
  logLevel: { flag: 'log-level', env: 'WASM_ADMISSION_LOG_LEVEL', type: 'string', default: 'info', doc: 'pino log level (trace, debug, info, warn, error)' },
} as const satisfies Record<string, Setting>

export type ServeOptions = {
  -readonly [K in keyof typeof SERVE_SETTINGS]: (typeof SERVE_SETTINGS)[K]['type'] extends 'integer'
    ? (typeof SERVE_SETTINGS)[K]['default'] extends number ? number : number | undefined
    : (typeof SERVE_SETTINGS)[K]['type'] extends 'boolean'
      ? boolean
      : (typeof SERVE_SETTINGS)[K]['default'] extends string ? string : string | undefined
}

function coerce(name: string, s: Setting, raw: string | boolean): string | boolean | number {
  if (s.type === 'boolean') return typeof raw === 'boolean' ? raw : /^(1|true|yes)$/i.test(raw)
  if (s.type === 'integer') {
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 0) throw new WasmAdmissionError('WA_ERR_CONFIG', [`--${s.flag} (${s.env}) must be a non-negative integer, got ${JSON.stringify(raw)}`])
    return n
  }
  if (typeof raw !== 'string') throw new WasmAdmissionError('WA_ERR_CONFIG', [`--${name} needs a value`])
  return raw
}

/** Flags win over environment variables, which win over defaults. Pure: argv and env come in. */
export function parseServeOptions(argv: string[], env: Record<string, string | undefined>): ServeOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const s of Object.values(SERVE_SETTINGS) as Setting[]) options[s.flag] = { type: s.type === 'boolean' ? 'boolean' : 'string' }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>
  } catch (e) {
    throw new WasmAdmissionError('WA_ERR_CONFIG', [(e as Error).message])
  }
  const out: Record<string, unknown> = {}
  for (const [key, s] of Object.entries(SERVE_SETTINGS) as Array<[string, Setting]>) {
    const raw = values[s.flag] ?? env[s.env]
    out[key] = raw === undefined || raw === '' ? s.default : coerce(s.flag, s, raw)
  }
  const o = out as ServeOptions
  if (o.webhookTimeoutSeconds < 1 || o.webhookTimeoutSeconds > 30) throw new WasmAdmissionError('WA_ERR_CONFIG', ['--webhook-timeout-seconds must be between 1 and 30 (the Kubernetes range)'])
  if (o.deadlineMarginMs !== undefined && o.deadlineMarginMs >= o.webhookTimeoutSeconds * 1000) throw new WasmAdmissionError('WA_ERR_CONFIG', ['--deadline-margin-ms must be smaller than the webhook timeout'])
  for (const [flag, v] of [['drift-reports', o.driftReports], ['drift-events', o.driftEvents]] as const) {
    if (!/^(true|false)$/.test(v)) throw new WasmAdmissionError('WA_ERR_CONFIG', [`--${flag} must be true or false, got ${JSON.stringify(v)}`])
  }
  return o
}

/**
 * The per-review deadline: the webhook timeout minus a margin for the answer's way back (encoding,
 * TLS, the network, the apiserver's own clock). Without --deadline-margin-ms the margin is 20% of
 * the timeout, at least 200 ms and at most 1 s: 1 s at the default 5 s and above (as a fixed margin
 * was), 200 ms at the smallest timeout Kubernetes allows (1 s), where a fixed 1 s margin would leave
 * no deadline at all.
 */
export function reviewDeadlineMs(o: Pick<ServeOptions, 'webhookTimeoutSeconds' | 'deadlineMarginMs'>): number {
  const timeoutMs = o.webhookTimeoutSeconds * 1000
  const margin = o.deadlineMarginMs ?? Math.min(1000, Math.max(200, Math.round(timeoutMs * 0.2)))
  return timeoutMs - margin
}

export function serveHelp(): string {
  const rows = (Object.values(SERVE_SETTINGS) as Setting[]).map((s) => {
    const arg = s.type === 'boolean' ? `--${s.flag}` : `--${s.flag} ${s.type === 'integer' ? 'N' : 'VALUE'}`
    const def = s.default === undefined ? '' : ` (default ${String(s.default)})`
    return `  ${arg.padEnd(34)} ${s.env}\n      ${s.doc}${def}`
  })
  return `Usage: wasm-admission serve [flags]\n\nFlags (each also read from the environment variable shown):\n${rows.join('\n')}\n`
}
