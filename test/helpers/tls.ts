/**
 * Test fixtures: a throwaway CA and serving certificates made with openssl in a temp dir by the
 * test suite itself. Never committed.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestCa {
  dir: string
  caCert: string
  caKey: string
  caPem: string
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

export function makeCa(name = 'wasm-admission-test-ca'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'wa-ca-'))
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  return { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), caPem: readFileSync(join(dir, 'ca.crt'), 'utf8') }
}

let serial = 0

/** Writes tls.crt/tls.key for `cn` (SANs localhost, 127.0.0.1, ::1 plus extra DNS names) into `outDir`, atomically. */
export function issueServingCert(ca: TestCa, outDir: string, cn = 'wasm-admission', extraDns: string[] = []): { cert: string; key: string } {
  const work = mkdtempSync(join(tmpdir(), 'wa-leaf-'))
  const sans = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...extraDns.map((d) => `DNS:${d}`)].join(',')
  writeFileSync(join(work, 'ext.cnf'), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`)
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', `/CN=${cn}`], work)
  openssl(['x509', '-req', '-in', 'tls.csr', '-CA', ca.caCert, '-CAkey', ca.caKey, '-set_serial', String(Date.now() * 100 + ++serial), '-days', '1', '-extfile', 'ext.cnf', '-out', 'tls.crt'], work)
  mkdirSync(outDir, { recursive: true })
  // Replace both files by rename so a reader never sees a half-written file.
  renameSync(join(work, 'tls.key'), join(outDir, 'tls.key.tmp'))
  renameSync(join(work, 'tls.crt'), join(outDir, 'tls.crt.tmp'))
  renameSync(join(outDir, 'tls.key.tmp'), join(outDir, 'tls.key'))
  renameSync(join(outDir, 'tls.crt.tmp'), join(outDir, 'tls.crt'))
  return { cert: readFileSync(join(outDir, 'tls.crt'), 'utf8'), key: readFileSync(join(outDir, 'tls.key'), 'utf8') }
}
