/**
 * Test setup: fetches the core/v1 OpenAPI v3 document (`/openapi/v3/api/v1`) from a REAL
 * kube-apiserver (the control plane of test/harness/control-plane.ts, the version pinned in
 * test/harness/versions.env) and stores it as test/fixtures/openapi/api-v1.json.
 *
 * The fixture is committed so the property tests need no control plane; when it is missing
 * (deleted, or the pinned Kubernetes version changed and it was removed on purpose),
 * `ensureOpenApiFixture()` regenerates it from a freshly started apiserver. Regenerate by hand:
 *
 *   source scripts/lib/node.sh && npx tsx test/reliability/fetch-openapi.ts
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startControlPlane } from '../harness/control-plane.js'
import { toolVersions } from '../harness/tools.js'

export const OPENAPI_FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'openapi', 'api-v1.json')

export interface OpenApiFixture {
  /** Where and from which version it was fetched (added by this script; not part of the apiserver's document). */
  'x-wasm-admission-fetched': { path: string; kubernetes: string }
  components: { schemas: Record<string, unknown> }
  [k: string]: unknown
}

/** Starts a control plane, GETs /openapi/v3/api/v1 through kubectl, writes the fixture. */
export async function fetchOpenApiFixture(file = OPENAPI_FIXTURE): Promise<OpenApiFixture> {
  const cp = await startControlPlane()
  try {
    const r = await cp.kubectl(['get', '--raw', '/openapi/v3/api/v1'], { timeoutMs: 120_000 })
    const doc = JSON.parse(r.stdout) as OpenApiFixture
    if (!doc.components?.schemas?.['io.k8s.api.core.v1.Pod']) throw new Error('/openapi/v3/api/v1 has no io.k8s.api.core.v1.Pod schema')
    doc['x-wasm-admission-fetched'] = { path: '/openapi/v3/api/v1', kubernetes: toolVersions().k8s }
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, JSON.stringify(doc) + '\n')
    return doc
  } finally {
    await cp.stop()
  }
}

/** The fixture, regenerated from a real apiserver when absent. */
export async function ensureOpenApiFixture(file = OPENAPI_FIXTURE): Promise<OpenApiFixture> {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as OpenApiFixture
  return fetchOpenApiFixture(file)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const doc = await fetchOpenApiFixture()
  process.stdout.write(`wrote ${OPENAPI_FIXTURE} (${Object.keys(doc.components.schemas).length} schemas, Kubernetes ${doc['x-wasm-admission-fetched'].kubernetes})\n`)
}
