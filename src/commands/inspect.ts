/**
 * `wasm-admission inspect [--plain-http] [--output json|text] [--allow-host CIDR|HOST]...
 *                         [--credentials FILE] [--hosts-dir DIR] [--timeout SECONDS] IMAGE...`
 *
 * Reads each image from its registry and prints what the webhook would conclude. It is a
 * user tool run on purpose, so `--plain-http` both allows HTTP to the registries named in the
 * IMAGE arguments and lets those hosts past the SSRF guard (e.g. a registry on 127.0.0.1).
 * Exit status: 0 when every image was read, 1 when any could not be (reason on stderr; the
 * others are still reported), 2 on usage errors. Does not touch `process`: io is passed in.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { ImageFact } from '../domain/facts.js'
import type { ImageKind } from '../domain/handler-table.js'
import { FileCredentialProvider, type CredentialProvider } from '../facts/images/credentials.js'
import { loadHostsDir, type HostsConfig } from '../facts/images/hosts.js'
import { ImageInspector, standaloneContext } from '../facts/images/inspector.js'
import { parseReference, registryEndpointHost, splitHostPort } from '../facts/images/reference.js'

export interface InspectIo {
  stdout: (s: string) => void
  stderr: (s: string) => void
  env: Record<string, string | undefined>
}

/** One element of the JSON output array. */
export interface InspectResult {
  image: string
  /** Digest the reference resolved to; null when the image could not be read. */
  digest: string | null
  wasm: boolean
  runtime: 'spin' | 'slight' | 'wasi' | 'crun' | null
  pinnedImage: string | null
  /** false for Wasm artifacts no pod can run, and for images that could not be read. */
  supported: boolean
  evidence: string[]
  /** `wasm` | `linux` | `unsupported` | `unknown` (not read). */
  kind: ImageFact['kind']
  /** Which handlers can run it: its row in the handler table (docs/inspect.md); null when not runnable or not read. */
  imageKind: ImageKind | null
  /** For Wasm images: whether the config has Entrypoint/Cmd (Spin images need `command: ["/"]`); else null. */
  hasEntrypoint: boolean | null
  /** When the image could not be read: the WA_ERR_IMAGE_* code and reason; else null. */
  error: { code: string; reason: string } | null
}

export const INSPECT_USAGE = `Usage: wasm-admission inspect [options] IMAGE...

Reads images from their registries and reports whether they are WebAssembly workloads and
which runtime they need.

Options:
  -o, --output json|text   output format (default: text)
      --plain-http         talk plain HTTP to the registries named in IMAGE arguments and let
                           those hosts past the SSRF guard (loopback/private registries)
      --allow-host X       allow a blocked host or CIDR (repeatable), e.g. 10.0.0.0/8
      --credentials FILE   dockerconfigjson file (default: $DOCKER_CONFIG/config.json or
                           ~/.docker/config.json when present; credential helpers are not used)
      --hosts-dir DIR      containerd hosts.toml directory for mirrors (e.g. /etc/containerd/certs.d)
      --timeout SECONDS    deadline for all lookups (default: 30)
  -h, --help               show this help

Exit status: 0 all images read, 1 some image could not be read, 2 usage error.
`

export function toInspectResult(f: ImageFact): InspectResult {
  switch (f.kind) {
    case 'wasm':
      return { image: f.image, digest: f.digest, wasm: true, runtime: f.runtime, pinnedImage: f.pinnedImage, supported: true, evidence: f.evidence, kind: 'wasm', imageKind: f.packaging, hasEntrypoint: f.hasEntrypoint, error: null }
    case 'linux':
      return { image: f.image, digest: f.digest, wasm: false, runtime: null, pinnedImage: null, supported: true, evidence: f.evidence, kind: 'linux', imageKind: 'linux', hasEntrypoint: null, error: null }
    case 'unsupported':
      return { image: f.image, digest: f.digest, wasm: false, runtime: null, pinnedImage: null, supported: false, evidence: f.evidence, kind: 'unsupported', imageKind: null, hasEntrypoint: null, error: null }
    case 'unknown':
      return {
        image: f.image,
        digest: null,
        wasm: false,
        runtime: null,
        pinnedImage: null,
        supported: false,
        evidence: f.evidence,
        kind: 'unknown',
        imageKind: null,
        hasEntrypoint: null,
        error: { code: f.code, reason: f.reason },
      }
  }
}

function shortDigest(d: string | null): string {
  if (d === null) return '-'
  const [algo, hex] = d.split(':')
  return `${algo}:${(hex ?? '').slice(0, 12)}`
}

export function formatTable(results: InspectResult[]): string {
  const rows = [
    ['IMAGE', 'KIND', 'RUNTIME', 'SUPPORTED', 'DIGEST', 'PINNED IMAGE'],
    ...results.map((r) => [r.image, r.kind, r.runtime ?? '-', r.supported ? 'yes' : 'no', shortDigest(r.digest), r.pinnedImage ?? '-']),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const lines = rows.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  )
  const details: string[] = []
  for (const r of results) {
    details.push('', `${r.image}:`)
    if (r.error !== null) details.push(`  error ${r.error.code}: ${r.error.reason}`)
    for (const e of r.evidence) details.push(`  - ${e}`)
  }
  return `${lines.join('\n')}\n${details.join('\n')}\n`
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

export async function runInspect(argv: string[], io: InspectIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: 'string', short: 'o', default: 'text' },
        'plain-http': { type: 'boolean', default: false },
        'allow-host': { type: 'string', multiple: true, default: [] },
        credentials: { type: 'string' },
        'hosts-dir': { type: 'string' },
        timeout: { type: 'string', default: '30' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (e) {
    io.stderr(`wasm-admission inspect: ${(e as Error).message}\n\n${INSPECT_USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    io.stdout(INSPECT_USAGE)
    return 0
  }
  const output = values.output
  if (output !== 'json' && output !== 'text') {
    io.stderr(`wasm-admission inspect: --output must be json or text, not ${JSON.stringify(output)}\n`)
    return 2
  }
  if (positionals.length === 0) {
    io.stderr(`wasm-admission inspect: no IMAGE given\n\n${INSPECT_USAGE}`)
    return 2
  }
  const timeoutS = Number(values.timeout)
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    io.stderr(`wasm-admission inspect: --timeout must be a positive number of seconds\n`)
    return 2
  }

  const allow = [...(values['allow-host'] ?? [])]
  const plainHttp: string[] = []
  if (values['plain-http']) {
    for (const image of positionals) {
      try {
        const ref = parseReference(image)
        const endpoint = registryEndpointHost(ref.registry)
        plainHttp.push(ref.registry, endpoint)
        allow.push(splitHostPort(endpoint).hostname)
      } catch {
        // reported per image below
      }
    }
  }

  let credentials: CredentialProvider | undefined
  const credFile = values.credentials ?? (io.env.DOCKER_CONFIG ? join(io.env.DOCKER_CONFIG, 'config.json') : io.env.HOME ? join(io.env.HOME, '.docker', 'config.json') : undefined)
  if (credFile !== undefined) {
    if (values.credentials !== undefined && !(await exists(credFile))) {
      io.stderr(`wasm-admission inspect: credentials file ${credFile} does not exist\n`)
      return 2
    }
    if (await exists(credFile)) {
      const provider = new FileCredentialProvider(credFile)
      try {
        await provider.credentials({ registryHost: 'probe.invalid', repository: 'probe' })
      } catch (e) {
        io.stderr(`wasm-admission inspect: cannot use credentials file ${credFile}: ${(e as Error).message}\n`)
        return 2
      }
      credentials = provider
    }
  }

  let hosts: HostsConfig | undefined
  if (values['hosts-dir'] !== undefined) hosts = await loadHostsDir(values['hosts-dir'])

  let inspector: ImageInspector
  try {
    inspector = new ImageInspector({
      plainHttp,
      ssrf: { allow },
      ...(credentials !== undefined ? { credentials } : {}),
      ...(hosts !== undefined ? { hosts } : {}),
      userAgent: 'wasm-admission-inspect',
    })
  } catch (e) {
    io.stderr(`wasm-admission inspect: ${(e as Error).message}\n`)
    return 2
  }

  const signal = AbortSignal.timeout(Math.round(timeoutS * 1000))
  let facts: ImageFact[]
  try {
    facts = await Promise.all(positionals.map((image) => inspector.lookup(image, standaloneContext(signal))))
  } finally {
    await inspector.close()
  }
  const results = facts.map(toInspectResult)
  let failed = 0
  for (const r of results) {
    if (r.error !== null) {
      failed++
      io.stderr(`wasm-admission inspect: ${r.image}: ${r.error.code}: ${r.error.reason}\n`)
    }
  }
  io.stdout(output === 'json' ? `${JSON.stringify(results, null, 2)}\n` : formatTable(results))
  return failed > 0 ? 1 : 0
}
