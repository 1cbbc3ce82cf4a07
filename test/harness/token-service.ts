/**
 * A token service for registry token auth (docker/distribution "token" auth, as registry 2.8
 * verifies it): RS256 JWTs with the signing certificate in the `x5c` header; the registry
 * trusts that certificate through its `rootcertbundle`. Key and certificate come from openssl.
 */
import { execFileSync } from 'node:child_process'
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TokenServiceOptions {
  /** user -> password; requests without valid Basic credentials get 401. */
  users: Record<string, string>
  service?: string
  issuer?: string
  /** Token lifetime (default 300 s). */
  expiresIn?: number
}

export interface TokenService {
  /** Realm URL for the registry config. */
  realm: string
  /** Host (`127.0.0.1:PORT`) of the token service. */
  host: string
  service: string
  issuer: string
  certPem: string
  /** Number of tokens issued so far. */
  issued(): number
  /** Number of requests refused (401). */
  refused(): number
  stop(): Promise<void>
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

function makeKeyAndCert(): { key: KeyObject; certPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wa-token-'))
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=wasm-admission-test-token-signer'],
      { stdio: 'ignore' },
    )
    return { key: createPrivateKey(readFileSync(join(dir, 'key.pem'))), certPem: readFileSync(join(dir, 'cert.pem'), 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function basicUser(req: IncomingMessage, users: Record<string, string>): string | undefined {
  const h = req.headers.authorization
  if (h === undefined || !h.toLowerCase().startsWith('basic ')) return undefined
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return undefined
  const user = decoded.slice(0, i)
  return users[user] !== undefined && users[user] === decoded.slice(i + 1) ? user : undefined
}

/** scope `repository:name:pull,push` -> access entry */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':')
  const last = scope.lastIndexOf(':')
  if (first < 0 || last <= first) return undefined
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) }
}

export async function startTokenService(opts: TokenServiceOptions): Promise<TokenService> {
  const service = opts.service ?? 'wasm-admission-test-registry'
  const issuer = opts.issuer ?? 'wasm-admission-test-issuer'
  const expiresIn = opts.expiresIn ?? 300
  const { key, certPem } = makeKeyAndCert()
  const x5c = new X509Certificate(certPem).raw.toString('base64')
  let issued = 0
  let refused = 0

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/token') {
      res.writeHead(404).end()
      return
    }
    const user = basicUser(req, opts.users)
    if (user === undefined) {
      refused++
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' })
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }))
      return
    }
    const access = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .map(parseScope)
      .filter((x): x is NonNullable<typeof x> => x !== undefined)
    const now = Math.floor(Date.now() / 1000)
    const header = { typ: 'JWT', alg: 'RS256', x5c: [x5c] }
    const claims = { iss: issuer, sub: user, aud: url.searchParams.get('service') ?? service, exp: now + expiresIn, nbf: now - 30, iat: now, jti: randomUUID(), access }
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
    const sig = sign('sha256', Buffer.from(input), key)
    const token = `${input}.${b64url(sig)}`
    issued++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    realm: `http://127.0.0.1:${port}/token`,
    host: `127.0.0.1:${port}`,
    service,
    issuer,
    certPem,
    issued: () => issued,
    refused: () => refused,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
