/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.
 * Installed by scripts/install-system-deps.sh. Optional htpasswd basic auth or token auth
 * (with a token service from ./token-service.ts). Readiness is polled on /v2/.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort } from './process.js'
export { freePort }
export const REGISTRY_BINARY = process.env.WASM_ADMISSION_REGISTRY_BIN ?? 'docker-registry'

/** Fixed test credentials with a precomputed bcrypt hash (used when `htpasswd` is not installed). */
export const TEST_BASIC_USER = { user: 'tester', password: 'wasm-admission-test-pass' } as const
const PRECOMPUTED_BCRYPT: Record<string, string> = {
  'tester:wasm-admission-test-pass': '$2y$05$WnBE.47I1pY/R9PtOve5CO2dTnXcWvNyJwrrTj6ARO9znnBCWKKK6',
}

export interface TokenAuthOptions {
  /** Token endpoint URL the registry sends clients to. */
  realm: string
  service: string
  issuer: string
  /** PEM of the certificate(s) whose keys sign tokens. */
  rootCertBundlePem: string
}

export interface StartRegistryOptions {
  htpasswd?: { user: string; password: string }
  tokenAuth?: TokenAuthOptions
}

export interface RegistryHandle {
  /** `127.0.0.1:PORT` */
  host: string
  /** `http://127.0.0.1:PORT` */
  url: string
  port: number
  /** Registry stdout/stderr so far (access log at info level), for debugging. */
  logs(): string
  stop(): Promise<void>
}

/** Is the registry binary installed? Tests skip with a clear message when not. */
export function registryAvailable(): boolean {
  try {
    execFileSync(REGISTRY_BINARY, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}


function bcryptLine(user: string, password: string): string {
  try {
    return execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim()
  } catch {
    const known = PRECOMPUTED_BCRYPT[`${user}:${password}`]
    if (known !== undefined) return `${user}:${known}`
    throw new Error('htpasswd (apache2-utils) is not installed and no precomputed hash exists for these credentials')
  }
}

function configYaml(port: number, dataDir: string, opts: StartRegistryOptions, htpasswdPath: string | undefined, certPath: string | undefined): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: wasm-admission-test-secret',
  ]
  if (opts.htpasswd !== undefined) {
    lines.push('auth:', '  htpasswd:', '    realm: wasm-admission-test', `    path: ${JSON.stringify(htpasswdPath)}`)
  } else if (opts.tokenAuth !== undefined) {
    const t = opts.tokenAuth
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(t.realm)}`,
      `    service: ${JSON.stringify(t.service)}`,
      `    issuer: ${JSON.stringify(t.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(certPath)}`,
    )
  }
  return `${lines.join('\n')}\n`
}

async function waitReady(url: string, child: ChildProcess, logs: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastErr = ''
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before becoming ready:\n${logs()}`)
    }
    try {
      const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) })
      await r.arrayBuffer()
      if (r.status === 200 || r.status === 401) return
      lastErr = `HTTP ${r.status}`
    } catch (e) {
      lastErr = (e as Error).message
    }
    // poll interval (not a synchronisation sleep: readiness is decided by the response)
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`docker-registry at ${url} not ready within ${timeoutMs} ms (${lastErr}):\n${logs()}`)
}

/** Starts a registry on a free loopback port. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-registry-'))
  const dataDir = join(dir, 'data')
  await mkdir(dataDir, { recursive: true })
  let htpasswdPath: string | undefined
  let certPath: string | undefined
  if (opts.htpasswd !== undefined) {
    htpasswdPath = join(dir, 'htpasswd')
    await writeFile(htpasswdPath, `${bcryptLine(opts.htpasswd.user, opts.htpasswd.password)}\n`)
  }
  if (opts.tokenAuth !== undefined) {
    certPath = join(dir, 'token-roots.pem')
    await writeFile(certPath, opts.tokenAuth.rootCertBundlePem)
  }
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const cfgPath = join(dir, 'config.yml')
    await writeFile(cfgPath, configYaml(port, dataDir, opts, htpasswdPath, certPath))
    const child = spawn(REGISTRY_BINARY, ['serve', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const append = (b: Buffer): void => {
      out += b.toString('utf8')
      if (out.length > 1_000_000) out = out.slice(-500_000)
    }
    child.stdout?.on('data', append)
    child.stderr?.on('data', append)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const url = `http://127.0.0.1:${port}`
    try {
      await waitReady(url, child, () => out)
    } catch (e) {
      lastError = e
      child.kill('SIGKILL')
      await exited
      continue
    }
    let stopped = false
    return {
      host: `127.0.0.1:${port}`,
      url,
      port,
      logs: () => out,
      stop: async () => {
        if (stopped) return
        stopped = true
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          await exited
        }
        await rm(dir, { recursive: true, force: true })
      },
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw lastError instanceof Error ? lastError : new Error(String(lastError))
}
