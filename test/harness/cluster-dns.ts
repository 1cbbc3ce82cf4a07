/**
 * A stand-in for cluster DNS on the real-node harness, which has neither CoreDNS nor kube-proxy:
 * Debian's dnsmasq, inside the harness network namespace, answering only the names the test
 * registers (`<service>.<namespace>.svc.cluster.local` -> an address) and NXDOMAIN for everything
 * else under cluster.local and svc (no upstream). The kubelets point pods at it
 * (RealNodesOptions.clusterDNS). Since nothing routes Service ClusterIPs, a test registers a Service
 * name with a Ready endpoint's pod IP (as a headless Service resolves), which reaches the Service's
 * port when the Service port equals the container port.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertOwnNetns } from './own-netns.js'
import { run, waitFor } from './process.js'

export interface ClusterDns {
  address: string
  /** Sets the records: FQDN -> IPv4 address (dnsmasq re-reads the file when it is written). */
  setRecords(records: Record<string, string>): void
  /** A-record lookup through this server (as a pod's resolver asks it). */
  resolve(name: string): Promise<string[]>
  stop(): Promise<void>
}

/** Starts dnsmasq on `address` (added to the namespace's loopback device if missing), port 53. */
export async function startClusterDns(address: string): Promise<ClusterDns> {
  assertOwnNetns('add the cluster DNS address')
  const have = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo'])
  if (!have.stdout.includes(` ${address}/`)) {
    const r = await run('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo'])
    if (r.code !== 0) throw new Error(`ip addr add ${address}/32 dev lo: ${r.stderr}`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'wa-dns-'))
  const hostsDir = join(dir, 'hosts')
  mkdirSync(hostsDir)
  const child: ChildProcess = spawn('dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    `--listen-address=${address}`,
    '--bind-interfaces',
    '--port=53',
    '--no-resolv',
    '--no-hosts',
    `--hostsdir=${hostsDir}`,
    '--local=/cluster.local/',
    '--local=/svc/',
    '--user=root',
    '--pid-file=',
    '--log-facility=-',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let gone = false
  void exited.then(() => (gone = true))
  const resolver = new Resolver({ timeout: 1000, tries: 1 })
  resolver.setServers([address])
  const resolve = (name: string): Promise<string[]> => resolver.resolve4(name)
  // One file, rewritten: dnsmasq re-reads a file of its hosts directory when it is written (inotify).
  const setRecords = (records: Record<string, string>): void => {
    writeFileSync(join(hostsDir, 'records'), Object.entries(records).map(([name, ip]) => `${ip} ${name}\n`).join(''))
  }
  writeFileSync(join(hostsDir, 'ready'), '127.0.0.1 dns-ready.cluster.local\n')
  await waitFor('dnsmasq answering', async () => {
    if (gone) throw new Error(`dnsmasq exited: ${stderr}`)
    return (await resolve('dns-ready.cluster.local').catch((): string[] => [])).includes('127.0.0.1')
  }, 30_000, 200)
  return {
    address,
    resolve,
    setRecords,
    async stop() {
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
