import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { parse as parseYaml } from 'yaml'
import type { RegistryClientOptions } from '../facts/images/registry-client.js'
import { WasmAdmissionError } from '../errors.js'

/**
 * The operator's registry settings file (`--registry-config`), e.g.
 *
 *   plainHttp: [registry.internal:5000]      # reached over HTTP, nothing else is
 *   allowHosts: [10.0.0.0/8, registry.internal] # private hosts the SSRF guard lets through
 *   caBundleFile: /etc/wasm-admission/registry-ca/ca.crt
 *   hostsDir: /etc/containerd/certs.d        # containerd hosts.toml mirrors
 *   limits: { requestTimeoutMs: 3000, concurrencyPerRegistry: 8 }
 */
export interface RegistryConfigFile {
  plainHttp?: string[]
  allowHosts?: string[]
  caBundleFile?: string
  hostsDir?: string
  limits?: { manifestBytes?: number; configBytes?: number; maxRedirects?: number; requestTimeoutMs?: number; concurrencyPerRegistry?: number }
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plainHttp: { type: 'array', items: { type: 'string', minLength: 1 } },
    allowHosts: { type: 'array', items: { type: 'string', minLength: 1 } },
    caBundleFile: { type: 'string', minLength: 1 },
    hostsDir: { type: 'string', minLength: 1 },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        manifestBytes: { type: 'integer', minimum: 1024 },
        configBytes: { type: 'integer', minimum: 1024 },
        maxRedirects: { type: 'integer', minimum: 0, maximum: 20 },
        requestTimeoutMs: { type: 'integer', minimum: 100 },
        concurrencyPerRegistry: { type: 'integer', minimum: 1 },
      },
    },
  },
} as const

const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA)

export function parseRegistryConfig(text: string, source: string): RegistryConfigFile {
  let doc: unknown
  try {
    doc = parseYaml(text) ?? {}
  } catch (e) {
    throw new WasmAdmissionError('WA_ERR_CONFIG', [`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`])
  }
  if (!validate(doc)) {
    const msgs = (validate.errors ?? []).map((e) => `${e.instancePath || '(top level)'} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : ''}`)
    throw new WasmAdmissionError('WA_ERR_CONFIG', [`${source}: ${msgs.join('; ')}`])
  }
  return doc as RegistryConfigFile
}

/** Reads the file and turns it into registry client options (hosts.toml loading is left to the caller). */
export function loadRegistryConfig(file: string): { options: RegistryClientOptions; hostsDir?: string } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new WasmAdmissionError('WA_ERR_CONFIG', [`cannot read registry config ${file}: ${(e as Error).message}`])
  }
  const c = parseRegistryConfig(text, file)
  const options: RegistryClientOptions = {}
  if (c.plainHttp) options.plainHttp = c.plainHttp
  if (c.allowHosts) options.ssrf = { allow: c.allowHosts }
  if (c.limits) options.limits = c.limits
  if (c.caBundleFile) {
    try {
      options.caBundle = readFileSync(c.caBundleFile, 'utf8')
    } catch (e) {
      throw new WasmAdmissionError('WA_ERR_CONFIG', [`cannot read caBundleFile ${c.caBundleFile}: ${(e as Error).message}`])
    }
  }
  return c.hostsDir ? { options, hostsDir: c.hostsDir } : { options }
}
