// Helpers for the chart tests: run the real helm binary (built by scripts/build-tools.sh, path from
// test/harness/tools.ts) and parse what it renders. Not a test file itself.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseAllDocuments, stringify } from 'yaml'
import { missingTools, toolPaths } from '../harness/tools.js'
import { run, type RunResult } from '../harness/process.js'

export const CHART_DIR = resolve(import.meta.dirname, '../../charts/wasm-admission')
export const CI_VALUES_DIR = join(CHART_DIR, 'ci')

/** Skip reason for tests that need helm, or false when it is built. WASM_ADMISSION_REQUIRE_CLUSTER=1 turns a skip into a failure. */
export function helmSkip(): string | false {
  if (!missingTools().includes('helm')) return false
  if (process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1') throw new Error('helm is not built (run scripts/build-tools.sh) and WASM_ADMISSION_REQUIRE_CLUSTER=1')
  return 'helm not built: run scripts/build-tools.sh'
}

export type { RunResult } from '../harness/process.js'

// Helm's own state (repositories, cache, plugins) goes to a private directory, never the user's.
const helmHome = mkdtempSync(join(tmpdir(), 'wasm-admission-helm-'))
for (const d of ['config', 'cache', 'data']) mkdirSync(join(helmHome, d))
process.on('exit', () => rmSync(helmHome, { recursive: true, force: true }))

/** Runs helm with the given arguments; never throws on a non-zero exit. */
export function helm(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  return run(toolPaths().helm, args, {
    timeoutMs: opts.timeoutMs ?? 120_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: helmHome,
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      ...opts.env,
    },
  })
}

/** A Kubernetes object as rendered (loosely typed; tests assert on the shape). */
export type K8sObject = Record<string, any>

export interface RenderOptions {
  /** Values written to a temporary values file (-f), after `valuesFiles`. */
  values?: Record<string, unknown>
  /** Values files, e.g. one of the chart's ci/*-values.yaml. */
  valuesFiles?: string[]
  /** Raw --set / --set-string / --set-file arguments, e.g. ['--set', 'a.b=1']. */
  args?: string[]
  namespace?: string
  release?: string
}

export interface Rendered extends RunResult {
  docs: K8sObject[]
}

const tmpValuesDir = mkdtempSync(join(tmpdir(), 'wasm-admission-values-'))
process.on('exit', () => rmSync(tmpValuesDir, { recursive: true, force: true }))
let valuesCounter = 0

function valuesArgs(o: RenderOptions): string[] {
  const args: string[] = []
  for (const f of o.valuesFiles ?? []) args.push('-f', f)
  if (o.values) {
    const file = join(tmpValuesDir, `values-${process.pid}-${valuesCounter++}.yaml`)
    writeFileSync(file, stringify(o.values))
    args.push('-f', file)
  }
  return [...args, ...(o.args ?? [])]
}

/** Parses a multi-document YAML stream into objects (empty documents dropped). */
export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML rendered: ${d.errors.map((e) => e.message).join('; ')}`)
      return d.toJS() as K8sObject | null
    })
    .filter((d): d is K8sObject => d !== null && typeof d === 'object')
}

/** `helm template` of the chart; docs are empty when helm fails (see code/stderr). */
export async function template(o: RenderOptions = {}): Promise<Rendered> {
  const r = await helm(['template', o.release ?? 'wa', CHART_DIR, '--namespace', o.namespace ?? 'wasm-system', ...valuesArgs(o)])
  return { ...r, docs: r.code === 0 ? parseManifests(r.stdout) : [] }
}

/** `helm lint --strict` of the chart with the given values. */
export function lint(o: RenderOptions = {}): Promise<RunResult> {
  return helm(['lint', '--strict', CHART_DIR, '--namespace', o.namespace ?? 'wasm-system', ...valuesArgs(o)])
}

export function byKind(docs: K8sObject[], kind: string): K8sObject[] {
  return docs.filter((d) => d.kind === kind)
}

/** The only object of a kind; throws when there are none or several. */
export function one(docs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = byKind(docs, kind).filter((d) => name === undefined || d.metadata?.name === name)
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`)
  return found[0] as K8sObject
}

/** Values of the four permutations the acceptance criteria name, from the chart's ci/ files. */
export const PERMUTATIONS = {
  certManager: join(CI_VALUES_DIR, 'certmanager-values.yaml'),
  helmCerts: join(CI_VALUES_DIR, 'helm-certs-values.yaml'),
  provided: join(CI_VALUES_DIR, 'provided-values.yaml'),
  urlMode: join(CI_VALUES_DIR, 'url-mode-values.yaml'),
} as const

export { stringify as toYaml }
