/**
 * SSRF guard for registry connections. Hosts that are, or resolve to, loopback, link-local
 * (169.254/16 incl. cloud metadata, fe80::/10), private, shared/CGNAT, multicast, reserved or
 * unspecified addresses are refused unless the operator allows them (CIDRs, IPs, host names,
 * `*.suffix` wildcards).
 *
 * Enforcement is in two places, both used by the registry client on EVERY connection:
 *  - `checkLiteral(host)` before a request (IP literals never reach a DNS lookup);
 *  - `lookup`, handed to undici's `connect` options, so the address actually connected to is
 *    the one checked (no DNS-rebinding gap between a check and the connect).
 */
import * as dns from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

export class HostBlockedError extends Error {
  readonly code = 'WA_HOST_BLOCKED'
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`host ${host} is not allowed: ${detail}`)
    this.name = 'HostBlockedError'
  }
}

interface Range {
  cidr: string
  label: string
}

const BLOCKED_V4: Range[] = [
  { cidr: '0.0.0.0/8', label: 'unspecified' },
  { cidr: '10.0.0.0/8', label: 'private' },
  { cidr: '100.64.0.0/10', label: 'shared address space (CGNAT)' },
  { cidr: '127.0.0.0/8', label: 'loopback' },
  { cidr: '169.254.0.0/16', label: 'link-local (cloud metadata)' },
  { cidr: '172.16.0.0/12', label: 'private' },
  { cidr: '192.0.0.0/24', label: 'IETF protocol assignments' },
  { cidr: '192.168.0.0/16', label: 'private' },
  { cidr: '198.18.0.0/15', label: 'benchmarking' },
  { cidr: '224.0.0.0/4', label: 'multicast' },
  { cidr: '240.0.0.0/4', label: 'reserved' },
]
const BLOCKED_V6: Range[] = [
  { cidr: '::/128', label: 'unspecified' },
  { cidr: '::1/128', label: 'loopback' },
  { cidr: 'fe80::/10', label: 'link-local' },
  { cidr: 'fec0::/10', label: 'site-local' },
  { cidr: 'fc00::/7', label: 'unique local (private)' },
  { cidr: 'ff00::/8', label: 'multicast' },
  { cidr: 'fd00:ec2::254/128', label: 'cloud metadata' },
]

function addCidr(list: BlockList, cidr: string): boolean {
  const slash = cidr.indexOf('/')
  const addr = slash >= 0 ? cidr.slice(0, slash) : cidr
  const fam = isIP(addr)
  if (fam === 0) return false
  const prefix = slash >= 0 ? Number(cidr.slice(slash + 1)) : fam === 4 ? 32 : 128
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (fam === 4 ? 32 : 128)) return false
  list.addSubnet(addr, prefix, fam === 4 ? 'ipv4' : 'ipv6')
  return true
}

/** IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible and NAT64 (64:ff9b::/96) addresses as IPv4. */
export function embeddedIPv4(ip: string): string | undefined {
  if (isIP(ip) !== 6) return undefined
  const lower = ip.toLowerCase()
  const m = /^(?:::ffff:|64:ff9b::|::ffff:0:)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (m) return m[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex) {
    const hi = parseInt(hex[1]!, 16)
    const lo = parseInt(hex[2]!, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return undefined
}

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>

const defaultResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dns.lookup(hostname, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs)))
  })

export interface SsrfGuardOptions {
  /** CIDRs (`10.0.0.0/8`), IPs, host names or `*.example.com`; a `:port` suffix is ignored. */
  allow?: string[]
  /** DNS resolver (tests inject one to simulate rebinding). Default: dns.lookup(all). */
  resolver?: Resolver
}

export class SsrfGuard {
  private readonly allowedNets = new BlockList()
  private readonly allowedNames = new Set<string>()
  private readonly allowedSuffixes: string[] = []
  private readonly blocked: Array<{ list: BlockList; label: string; cidr: string }> = []
  private readonly resolver: Resolver

  constructor(opts: SsrfGuardOptions = {}) {
    this.resolver = opts.resolver ?? defaultResolver
    for (const r of [...BLOCKED_V4, ...BLOCKED_V6]) {
      const list = new BlockList()
      addCidr(list, r.cidr)
      this.blocked.push({ list, label: r.label, cidr: r.cidr })
    }
    for (const raw of opts.allow ?? []) this.allow(raw)
  }

  /** Adds an allow-list entry; throws on an unparseable CIDR. */
  allow(raw: string): void {
    const entry = raw.trim()
    if (entry === '') return
    if (entry.includes('/')) {
      if (!addCidr(this.allowedNets, entry)) throw new Error(`invalid CIDR in SSRF allow-list: ${entry}`)
      return
    }
    const host = stripPort(entry).toLowerCase()
    if (isIP(host) !== 0) {
      addCidr(this.allowedNets, host)
      return
    }
    if (host.startsWith('*.')) this.allowedSuffixes.push(host.slice(1))
    else this.allowedNames.add(host)
  }

  /** True when the operator allowed this host name explicitly (its addresses are then not checked). */
  nameAllowed(hostname: string): boolean {
    const h = hostname.toLowerCase().replace(/\.$/, '')
    return this.allowedNames.has(h) || this.allowedSuffixes.some((s) => h.endsWith(s))
  }

  /** Why an IP address is refused, or undefined when it may be contacted. */
  addressBlockReason(ip: string): string | undefined {
    const fam = isIP(ip)
    if (fam === 0) return `"${ip}" is not an IP address`
    const v4 = fam === 6 ? embeddedIPv4(ip) : ip
    const candidates: Array<[string, 'ipv4' | 'ipv6']> = fam === 4 ? [[ip, 'ipv4']] : v4 !== undefined ? [[v4, 'ipv4'], [ip, 'ipv6']] : [[ip, 'ipv6']]
    for (const [addr, type] of candidates) {
      if (this.allowedNets.check(addr, type)) return undefined
    }
    for (const [addr, type] of candidates) {
      for (const b of this.blocked) {
        if (b.list.check(addr, type)) return `${addr} is ${b.label} (${b.cidr})`
      }
    }
    return undefined
  }

  /** Checks a host before connecting: IP literals directly; names only if explicitly allowed (else at lookup). */
  checkLiteral(hostname: string): void {
    const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
    if (isIP(h) === 0) return
    const reason = this.addressBlockReason(h)
    if (reason !== undefined) throw new HostBlockedError(hostname, reason)
  }

  /** Resolves and checks a host name completely (used by callers without a dispatcher, e.g. diagnostics). */
  async check(hostname: string): Promise<void> {
    const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
    if (isIP(h) !== 0) return this.checkLiteral(h)
    if (this.nameAllowed(h)) return
    const addrs = await this.resolver(h)
    for (const a of addrs) {
      const reason = this.addressBlockReason(a.address)
      if (reason !== undefined) throw new HostBlockedError(hostname, `resolves to ${reason}`)
    }
  }

  /** A `lookup` for net/tls connect options (undici `connect: { lookup }`). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const cb = callback as unknown as (err: Error | null, address: unknown, family?: number) => void
    const wantAll = (options as { all?: boolean }).all === true
    const family = (options as { family?: number | string }).family
    this.resolver(hostname).then(
      (addrs) => {
        let list = addrs
        if (family === 4 || family === 'IPv4') list = addrs.filter((a) => a.family === 4)
        else if (family === 6 || family === 'IPv6') list = addrs.filter((a) => a.family === 6)
        if (list.length === 0) {
          const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname })
          cb(e, undefined)
          return
        }
        if (!this.nameAllowed(hostname)) {
          for (const a of list) {
            const reason = this.addressBlockReason(a.address)
            if (reason !== undefined) {
              cb(new HostBlockedError(hostname, `resolves to ${reason}`), undefined)
              return
            }
          }
        }
        if (wantAll) cb(null, list)
        else cb(null, list[0]!.address, list[0]!.family)
      },
      (err: Error) => cb(err, undefined),
    )
  }
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return end > 0 ? host.slice(1, end) : host
  }
  const c = host.lastIndexOf(':')
  if (c > 0 && host.indexOf(':') === c) return host.slice(0, c)
  return host
}

/** Finds a HostBlockedError in an error's cause chain. */
export function findHostBlocked(e: unknown): HostBlockedError | undefined {
  let cur: unknown = e
  for (let i = 0; i < 8 && cur !== undefined && cur !== null; i++) {
    if (cur instanceof HostBlockedError) return cur
    if (typeof cur === 'object' && (cur as { code?: unknown }).code === 'WA_HOST_BLOCKED') return cur as HostBlockedError
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}
