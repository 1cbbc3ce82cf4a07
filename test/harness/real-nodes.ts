/**
 * Real worker nodes for the control plane of ./control-plane.ts: per node its own containerd (Debian's
 * 1.6: own root, state, socket and config, runc plus any Wasm shims), its own kubelet (v1.36.3, built by
 * scripts/build-tools.sh) and a CNI bridge with its own subnet. Must run inside the namespaces of
 * ./own-netns.ts: the bridges and node addresses exist only there.
 *
 *   const nodes = await startRealNodes({ cp, registryHost, sandboxImage, nodes: [{ name: 'node-runc' }] })
 *   t.teardown(() => nodes.stop())
 *
 * What this machine kind needs (see docs/demo.md, "What the harness needs"): cgroup v1 (KubeletConfiguration
 * failCgroupV1: false, cgroupDriver cgroupfs, one cgroupRoot per node, created here), a non-loopback node IP
 * (the bridge's gateway address), containerd's restrict_oom_score_adj (no CAP_SYS_RESOURCE), images only from
 * the local registry (certs.d hosts.toml), and the kubelet's host sysctls recorded and restored
 * (./host-sysctls.ts).
 *
 * Teardown (stop(), and synchronously on exit/signals): kubelets, then every process whose command line
 * names the nodes' directory (containerd, the shims), every process in the nodes' cgroups (the
 * containers), the mounts under the directory, the cgroups, the directory, the sysctls.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import type { ControlPlane } from './control-plane.js'
import { SysctlGuard } from './host-sysctls.js'
import { assertOwnNetns } from './own-netns.js'
import { run, waitFor, type RunResult } from './process.js'
import { toolPaths } from './tools.js'

export interface ShimRuntime {
  /** containerd runtime name = RuntimeClass handler, e.g. `wasmtime`. */
  handler: string
  /** containerd runtime_type, e.g. `io.containerd.wasmtime.v1` (containerd runs `containerd-shim-wasmtime-v1`). */
  runtimeType: string
  /** The shim binary; linked into the node's PATH under the name runtimeType implies. */
  binary: string
}

export interface RealNodeSpec {
  name: string
  /** Labels the kubelet registers the Node with (--node-labels). */
  labels?: Record<string, string>
  /** Wasm shims registered in this node's containerd besides runc. */
  shims?: ShimRuntime[]
}

export interface RealNodesOptions {
  cp: ControlPlane
  /** host:port of the local registry (plain HTTP), the nodes' only image source. */
  registryHost: string
  /** The CRI sandbox ("pause") image, in that registry. */
  sandboxImage: string
  nodes: RealNodeSpec[]
  /** Deadline for every node to be Ready, ms. Default 180000. */
  readyTimeoutMs?: number
  log?: (line: string) => void
  /** Keep the nodes' directory (logs, configs) after stop(). */
  keepDir?: boolean
  /** The kubelets' clusterDNS address (pods' nameserver, domain cluster.local); none by default. */
  clusterDNS?: string
}

export interface RealNode {
  name: string
  /** The node IP: the gateway address of its bridge, inside the harness network namespace. */
  ip: string
  /** The node's Linux bridge (CNI bridge plugin), in the harness network namespace. */
  bridge: string
  /** containerd's socket (for `ctr -a`). */
  socket: string
  dir: string
  logs: { containerd: string; kubelet: string }
  /** The shims currently in the node's containerd config. */
  shims(): ShimRuntime[]
  /** `ctr -a <socket> -n k8s.io ...` */
  ctr(args: string[]): Promise<RunResult>
  /** Rewrites containerd's config with these shims and restarts containerd (running containers keep running:
   * the shim binaries already linked stay on containerd's PATH, only the config forgets them). */
  reconfigureShims(shims: ShimRuntime[]): Promise<void>
  /** PIDs of this node's shim processes (any containerd-shim-* whose -address is this node's socket). */
  shimProcesses(): Array<{ pid: number; argv: string[]; rssKiB: number }>
}

export interface Timings {
  /** From startRealNodes() to every kubelet started (configs, certs, containerd up). */
  setupMs: number
  /** From the kubelets' start to every node Ready. */
  readyMs: number
}

export interface RealNodes {
  nodes: RealNode[]
  node(name: string): RealNode
  dir: string
  timings: Timings
  /** The sysctl values recorded before the first kubelet on this machine started. */
  sysctlsBefore: Record<string, string>
  sysctls: SysctlGuard
  /** Resident memory (KiB) of each node's kubelet, containerd and shims. */
  memory(): Record<string, { kubelet: number; containerd: number; shims: number }>
  stop(): Promise<void>
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))
const CNI_BIN = '/usr/lib/cni'
const CGROUP_FS = '/sys/fs/cgroup'
const KUBELET_PORT = 10250
const KUBELET_HEALTHZ_PORT = 10248

/** Every cgroup (v1 or v2) mount under /sys/fs/cgroup. */
function cgroupMounts(): string[] {
  const out: string[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ')
    const sep = parts.indexOf('-')
    if (sep < 0) continue
    const fstype = parts[sep + 1]
    const mnt = parts[4]!
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mnt.startsWith(`${CGROUP_FS}/`)) out.push(mnt)
  }
  return out
}

/** Mount points under dir (deepest first), from this process's mount namespace. */
function mountsUnder(dir: string): string[] {
  const out: string[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mnt = line.split(' ')[4]
    if (mnt && (mnt === dir || mnt.startsWith(`${dir}/`))) out.push(mnt.replace(/\\040/g, ' '))
  }
  return out.sort((a, b) => b.length - a.length)
}

/** All cgroup directories below root in every hierarchy, deepest first. */
function cgroupDirs(root: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    let entries
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name))
    out.push(d)
  }
  for (const m of cgroupMounts()) walk(join(m, root))
  return out.sort((a, b) => b.length - a.length)
}

function procsIn(cgroupDir: string): number[] {
  try {
    return readFileSync(join(cgroupDir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number)
  } catch {
    return []
  }
}

/** Processes (other than this one) whose command line contains `needle`. */
function processesMentioning(needle: string): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
      if (argv.some((a) => a.includes(needle))) out.push({ pid: Number(e), argv })
    } catch {
      /* exited */
    }
  }
  return out
}

function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    /* gone */
  }
}

/** Busy-wait for the synchronous cleanup path only (exit handlers cannot await). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

// ------------------------------------------------------------------ process-wide cleanup

interface Cleanup {
  dir: string
  cgroupRoots: string[]
  sysctls: SysctlGuard
  keepDir: boolean
}
const live = new Set<Cleanup>()
let handlersInstalled = false

/** Kills everything of an environment, unmounts, removes cgroups and the dir, restores sysctls. Synchronous. */
function cleanupSync(c: Cleanup): void {
  for (const p of processesMentioning(c.dir)) kill(p.pid, 'SIGKILL')
  for (const root of c.cgroupRoots) for (const d of cgroupDirs(root)) for (const pid of procsIn(d)) kill(pid, 'SIGKILL')
  for (const m of mountsUnder(c.dir)) {
    try {
      execFileSync('/usr/bin/umount', ['-l', m], { stdio: 'ignore' })
    } catch {
      /* already gone */
    }
  }
  // The killed processes leave their cgroups a moment later: retry rmdir for up to 5 s.
  const deadline = Date.now() + 5_000
  for (const root of c.cgroupRoots) {
    for (const d of cgroupDirs(root)) {
      for (;;) {
        try {
          rmdirSync(d)
          break
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code
          if (code === 'ENOENT' || Date.now() > deadline) break
          for (const pid of procsIn(d)) kill(pid, 'SIGKILL')
          pause(20)
        }
      }
    }
  }
  if (!c.keepDir) rmSync(c.dir, { recursive: true, force: true })
  c.sysctls.release()
}

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  const all = (): void => {
    for (const c of live) cleanupSync(c)
    live.clear()
  }
  process.on('exit', all)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Runs before the handlers of control-plane.ts and e2e-env.ts re-raise the signal (listeners run in
    // registration order; this module registers when the first nodes start, after them, so it does
    // the same: clean, then leave the re-raise to them; with no other listener, re-raise here).
    process.on(sig, () => {
      all()
      if (process.listenerCount(sig) <= 1) {
        process.removeAllListeners(sig)
        process.kill(process.pid, sig)
      }
    })
  }
}

// ------------------------------------------------------------------ configuration files

function containerdConfig(dir: string, registryHost: string, sandboxImage: string, shims: ShimRuntime[]): string {
  const q = JSON.stringify
  const cri = 'plugins."io.containerd.grpc.v1.cri"'
  const lines = [
    'version = 2',
    `root = ${q(join(dir, 'containerd/root'))}`,
    `state = ${q(join(dir, 'containerd/state'))}`,
    // The zfs/btrfs/devmapper/aufs snapshotters probe the host; overlayfs is what the nodes use.
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = ${q(join(dir, 'containerd.sock'))}`,
    '[ttrpc]',
    `  address = ${q(join(dir, 'containerd.sock.ttrpc'))}`,
    '[debug]',
    `  address = ${q(join(dir, 'containerd-debug.sock'))}`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(dir, 'containerd/opt'))}`,
    `[${cri}]`,
    `  sandbox_image = ${q(sandboxImage)}`,
    // The VM lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the caller's.
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    // Streaming server (exec/attach/port-forward) on loopback, any free port (the default 10010 would collide between nodes).
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    ...shims.flatMap((s) => [`[${cri}.containerd.runtimes.${q(s.handler)}]`, `  runtime_type = ${q(s.runtimeType)}`]),
    `[${cri}.cni]`,
    `  bin_dir = ${q(CNI_BIN)}`,
    `  conf_dir = ${q(join(dir, 'cni/net.d'))}`,
    `[${cri}.registry]`,
    `  config_path = ${q(join(dir, 'certs.d'))}`,
    '',
  ]
  void registryHost
  return lines.join('\n')
}

/** containerd-shim-<name>-<version> for runtime_type io.containerd.<name>.<version>. */
export function shimBinaryName(runtimeType: string): string {
  const m = /^io\.containerd\.([^.]+)\.([^.]+)$/.exec(runtimeType)
  if (!m) throw new Error(`runtime_type ${runtimeType} is not io.containerd.<name>.<version>`)
  return `containerd-shim-${m[1]}-${m[2]}`
}

function cniConfig(name: string, bridge: string, subnet: string, gateway: string, ipamDir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: `wasm-admission-${name}`,
    plugins: [{
      type: 'bridge',
      bridge,
      isGateway: true,
      ipMasq: false,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet, gateway }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
    }],
  }, null, 2)
}

// ------------------------------------------------------------------ daemons

/** The kubelet's device-plugin registration socket: a fixed path (pluginapi.KubeletSocket), whatever --root-dir says. */
const DEVICE_PLUGIN_SOCKET = '/var/lib/kubelet/device-plugins/kubelet.sock'

class Daemon {
  child: ChildProcess | undefined
  exited: Promise<void> = Promise.resolve()
  exitInfo = ''

  constructor(readonly name: string, readonly bin: string, readonly args: string[], readonly logFile: string, readonly env: NodeJS.ProcessEnv) {}

  start(): void {
    const fd = openSync(this.logFile, 'a')
    writeSync(fd, `\n===== ${new Date().toISOString()} starting ${this.name}: ${this.bin} ${this.args.join(' ')}\n`)
    let c: ChildProcess
    try {
      const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', this.bin, ...this.args]] : [this.bin, this.args]
      c = spawn(cmd, argv, { stdio: ['ignore', fd, fd], detached: true, env: this.env })
    } finally {
      closeSync(fd)
    }
    this.child = c
    this.exitInfo = ''
    this.exited = new Promise<void>((resolve) => {
      const done = (info: string): void => {
        this.exitInfo = info
        if (this.child === c) this.child = undefined
        resolve()
      }
      c.once('exit', (code, sig) => done(`exited with ${sig ?? `code ${code}`}`))
      c.once('error', (e) => done(`failed to spawn: ${e.message}`))
    })
  }

  async stop(graceMs = 10_000): Promise<void> {
    const c = this.child
    if (!c?.pid) return
    kill(c.pid, 'SIGTERM')
    const timer = setTimeout(() => kill(c.pid!, 'SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  tail(n = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-n).join('\n')
    } catch {
      return '(no log)'
    }
  }

  /** Polls check until true; fails at once when the daemon exits. */
  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    await waitFor(`${this.name} ${what}`, async () => {
      if (!this.child) throw new Error(`${this.name} ${this.exitInfo}; log ${this.logFile}:\n${this.tail()}`)
      return check()
    }, timeoutMs).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.name} log ${this.logFile}:\n${this.tail()}`)
    })
  }
}

// ------------------------------------------------------------------ certificates

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args)
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
}

/** A client certificate CN=system:node:<name>, O=system:nodes, signed by the control plane's client CA. */
async function nodeClientCert(cp: ControlPlane, name: string, dir: string): Promise<{ crt: string; key: string }> {
  const crt = join(dir, 'kubelet-client.crt')
  const key = join(dir, 'kubelet-client.key')
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
    '-CA', join(cp.dir, 'certs/client-ca.crt'), '-CAkey', join(cp.dir, 'certs/client-ca.key'),
    '-subj', `/O=system:nodes/CN=system:node:${name}`,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=clientAuth',
    '-keyout', key, '-out', crt,
  ])
  return { crt, key }
}

function kubeconfig(cp: ControlPlane, user: string, crt: string, key: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: user, user: { 'client-certificate': crt, 'client-key': key } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user } }],
    'current-context': 'local',
  })
}

// ------------------------------------------------------------------ start

/** The kubelet binary (built by scripts/build-tools.sh next to kubectl). */
export function kubeletPath(): string {
  return toolPaths().kubelet
}

/** Why real nodes cannot start here, or undefined. */
export function realNodesMissing(): string | undefined {
  if (!existsSync(kubeletPath())) return `${kubeletPath()} is not built: run scripts/build-tools.sh`
  for (const cmd of ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', `${CNI_BIN}/bridge`, `${CNI_BIN}/host-local`, `${CNI_BIN}/loopback`, '/usr/sbin/ip', '/usr/sbin/iptables']) {
    if (!existsSync(cmd)) return `${cmd} is missing: run scripts/install-system-deps.sh`
  }
  if (cgroupMounts().length === 0) return `no cgroup hierarchy mounted under ${CGROUP_FS}`
  return undefined
}

export async function startRealNodes(opts: RealNodesOptions): Promise<RealNodes> {
  const t0 = Date.now()
  const log = opts.log ?? (() => undefined)
  assertOwnNetns('create node bridges and addresses')
  const missing = realNodesMissing()
  if (missing) throw new Error(`real nodes cannot start: ${missing}`)
  if (opts.nodes.length > 200) throw new Error('at most 200 nodes')
  const { cp } = opts
  const kubelet = kubeletPath()
  const dir = mkdtempSync(join(tmpdir(), 'wa-nodes-'))
  const runId = dir.slice(dir.lastIndexOf('-') + 1)
  const sysctls = new SysctlGuard()
  const cleanup: Cleanup = { dir, cgroupRoots: [], sysctls, keepDir: opts.keepDir ?? false }
  installHandlers()
  live.add(cleanup)

  const daemons: Daemon[] = []
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    // Kubelets first (they would restart what goes away), then containerd, then whatever is left.
    await Promise.all(daemons.filter((d) => d.name.startsWith('kubelet')).map((d) => d.stop(10_000)))
    await Promise.all(daemons.filter((d) => d.name.startsWith('containerd')).map((d) => d.stop(10_000)))
    cleanupSync(cleanup)
    live.delete(cleanup)
  }

  try {
    // The nodes' credentials: kubelets authenticate with client certs (group system:nodes); RBAC's
    // system:node ClusterRole gives them what they need (no Node authorizer in this control plane).
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'wasm-admission-harness:nodes' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
      }),
    })
    const sysctlsBefore = sysctls.acquire().original

    const nodes: RealNode[] = await Promise.all(opts.nodes.map(async (spec, i) => {
      const nd = join(dir, spec.name)
      const octet = i + 10
      const subnet = `10.244.${octet}.0/24`
      const ip = `10.244.${octet}.1`
      const bridge = `wa${runId.slice(0, 6)}${i}`.slice(0, 15)
      const cgroupRoot = `/wasm-admission-${runId}-${spec.name}`
      cleanup.cgroupRoots.push(cgroupRoot)
      for (const d of ['containerd', 'cni/net.d', 'cni/ipam', 'kubelet', 'pki', 'pod-logs', 'bin', 'volume-plugins', `certs.d/${opts.registryHost.replace(':', ':')}`]) mkdirSync(join(nd, d), { recursive: true })

      // The node IP is the bridge's gateway address; the bridge plugin then reuses the bridge.
      const ipRun = async (args: string[]): Promise<void> => {
        const r = await run('/usr/sbin/ip', args)
        if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
      }
      assertOwnNetns(`add ${ip} to ${bridge}`)
      // A fixed MAC: a bridge whose address was never set takes the lowest MAC of its ports, so deleting
      // the pod whose veth had it changes the gateway's MAC under every other pod of the node, whose ARP
      // entry then points nowhere until it expires (seconds: a webhook replica that stops answering probes
      // and admissions while another pod of its node terminates). Linux net/bridge/br_stp_if.c
      // br_stp_recalculate_bridge_id keeps an address set by the user (addr_assign_type NET_ADDR_SET).
      // The same outage on real clusters: kubernetes/kubernetes#30783, flannel-io/flannel#1381 (~33 s).
      await ipRun(['link', 'add', bridge, 'address', `02:77:61:00:00:${octet.toString(16).padStart(2, '0')}`, 'type', 'bridge'])
      await ipRun(['addr', 'add', `${ip}/24`, 'dev', bridge])
      await ipRun(['link', 'set', bridge, 'up'])
      writeFileSync(join(nd, 'cni/net.d/10-bridge.conflist'), cniConfig(spec.name, bridge, subnet, ip, join(nd, 'cni/ipam')))

      // The kubelet refuses a cgroupRoot that does not exist; cpuset needs its cpus/mems before use.
      for (const m of cgroupMounts()) {
        const d = join(m, cgroupRoot)
        mkdirSync(d, { recursive: true })
        if (m.endsWith('/cpuset')) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join(m, f), 'utf8'))
      }

      // containerd: registry as mirror (plain HTTP), shims on its PATH.
      writeFileSync(join(nd, 'certs.d', opts.registryHost, 'hosts.toml'), [
        `server = "http://${opts.registryHost}"`,
        `[host."http://${opts.registryHost}"]`,
        '  capabilities = ["pull", "resolve"]',
        '',
      ].join('\n'))
      let shims = spec.shims ?? []
      // keep: leave existing links. containerd, restarted, reloads its running tasks through each one's shim
      // binary: with the binary gone it drops them ("failed to resolve runtime path") and the kubelet
      // recreates the pod, which then fails. Removing a runtime from the config must not uninstall it.
      const linkShims = (list: ShimRuntime[], keep = false): void => {
        if (!keep) for (const e of readdirSync(join(nd, 'bin'))) rmSync(join(nd, 'bin', e), { force: true })
        for (const s of list) {
          const link = join(nd, 'bin', shimBinaryName(s.runtimeType))
          rmSync(link, { force: true })
          symlinkSync(s.binary, link)
        }
      }
      linkShims(shims)
      const configFile = join(nd, 'containerd/config.toml')
      writeFileSync(configFile, containerdConfig(nd, opts.registryHost, opts.sandboxImage, shims))
      const socket = join(nd, 'containerd.sock')
      const env = { PATH: `${join(nd, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: nd }
      const containerd = new Daemon(`containerd ${spec.name}`, '/usr/bin/containerd', ['--config', configFile], join(nd, 'containerd.log'), env)
      daemons.push(containerd)
      const ctr = (args: string[]): Promise<RunResult> => run('/usr/bin/ctr', ['-a', socket, '-n', 'k8s.io', ...args], { timeoutMs: 30_000 })
      const startContainerd = async (): Promise<void> => {
        containerd.start()
        await containerd.waitUntil('serving CRI', async () => /^io\.containerd\.grpc\.v1\s+cri\s.*\sok\s*$/m.test((await run('/usr/bin/ctr', ['-a', socket, 'plugins', 'ls'], { timeoutMs: 10_000 })).stdout), 60_000)
      }
      await startContainerd()

      // kubelet
      const cert = await nodeClientCert(cp, spec.name, join(nd, 'pki'))
      const kubeconfigFile = join(nd, 'kubelet.kubeconfig')
      writeFileSync(kubeconfigFile, kubeconfig(cp, `system:node:${spec.name}`, cert.crt, cert.key), { mode: 0o600 })
      const configYaml = join(nd, 'kubelet-config.yaml')
      writeFileSync(configYaml, toYaml({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        // cgroup v1 on this machine kind: kubelet 1.35+ refuses it unless told otherwise.
        failCgroupV1: false,
        cgroupDriver: 'cgroupfs',
        cgroupRoot,
        cgroupsPerQOS: true,
        containerRuntimeEndpoint: `unix://${socket}`,
        address: ip,
        port: KUBELET_PORT,
        readOnlyPort: 0,
        healthzBindAddress: ip,
        healthzPort: KUBELET_HEALTHZ_PORT,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: join(cp.dir, 'certs/client-ca.crt') },
        },
        authorization: { mode: 'Webhook' },
        podLogsDir: join(nd, 'pod-logs'),
        volumePluginDir: join(nd, 'volume-plugins'),
        resolvConf: '',
        failSwapOn: false,
        serializeImagePulls: false,
        // The disk is shared with everything else on the machine: do not evict on its fill level.
        evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        shutdownGracePeriod: '0s',
        rotateCertificates: false,
        serverTLSBootstrap: false,
        maxPods: 30,
        ...(opts.clusterDNS ? { clusterDNS: [opts.clusterDNS], clusterDomain: 'cluster.local' } : {}),
      }))
      const labels = Object.entries(spec.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
      const kl = new Daemon(`kubelet ${spec.name}`, kubelet, [
        `--config=${configYaml}`,
        `--kubeconfig=${kubeconfigFile}`,
        `--root-dir=${join(nd, 'kubelet')}`,
        `--cert-dir=${join(nd, 'pki')}`,
        `--hostname-override=${spec.name}`,
        `--node-ip=${ip}`,
        ...(labels ? [`--node-labels=${labels}`] : []),
        '--v=1',
      ], join(nd, 'kubelet.log'), { PATH: env.PATH, HOME: nd })
      daemons.push(kl)

      const node: RealNode = {
        name: spec.name,
        ip,
        bridge,
        socket,
        dir: nd,
        logs: { containerd: containerd.logFile, kubelet: kl.logFile },
        shims: () => shims,
        ctr,
        reconfigureShims: async (next) => {
          shims = next
          linkShims(next, true)
          writeFileSync(configFile, containerdConfig(nd, opts.registryHost, opts.sandboxImage, next))
          await containerd.stop(10_000)
          await startContainerd()
        },
        shimProcesses: () => processesMentioning(socket)
          .filter((p) => /containerd-shim-/.test(p.argv[0] ?? ''))
          .map((p) => ({ ...p, rssKiB: rssKiB(p.pid) })),
      }
      ;(node as RealNode & { kubelet: Daemon; containerd: Daemon }).kubelet = kl
      ;(node as RealNode & { kubelet: Daemon; containerd: Daemon }).containerd = containerd
      return node
    }))

    const setupMs = Date.now() - t0
    const t1 = Date.now()
    log(`starting ${nodes.length} kubelet(s): ${nodes.map((n) => `${n.name} (${n.ip})`).join(', ')}`)
    // One kubelet at a time: every kubelet's device manager wipes the fixed directory
    // /var/lib/kubelet/device-plugins and then listens on kubelet.sock in it (v1.36.3
    // pkg/kubelet/cm/devicemanager/plugin/v1beta1/server.go Start: CleanupPluginDirectory, then
    // net.Listen), with no flag to move it. Two kubelets starting together race between one's wipe and
    // the other's listen ("bind: address already in use", the kubelet exits). The next one starts once
    // this one's socket is there. (Other test files' nodes get their own directory: own-netns.ts.)
    for (const n of nodes) {
      const kl = (n as RealNode & { kubelet: Daemon }).kubelet
      const inode = (): number | undefined => {
        try {
          return statSync(DEVICE_PLUGIN_SOCKET).ino
        } catch {
          return undefined
        }
      }
      const before = inode()
      kl.start()
      await kl.waitUntil('listening on the device-plugin socket', async () => {
        const now = inode()
        return now !== undefined && now !== before
      }, opts.readyTimeoutMs ?? 180_000)
    }
    await Promise.all(nodes.map((n) => (n as RealNode & { kubelet: Daemon }).kubelet.waitUntil('Ready', async () => {
      const r = await cp.kubectl(['get', 'node', n.name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints}'], { allowFailure: true })
      // Ready, and the not-ready taint lifted (by the node-lifecycle controller) so pods can be scheduled.
      return r.code === 0 && r.stdout.startsWith('True') && !r.stdout.includes('node.kubernetes.io/not-ready')
    }, opts.readyTimeoutMs ?? 180_000)))
    const readyMs = Date.now() - t1
    log(`nodes Ready in ${(readyMs / 1000).toFixed(1)} s (set-up ${(setupMs / 1000).toFixed(1)} s)`)

    const byName = new Map(nodes.map((n) => [n.name, n]))
    return {
      nodes,
      node: (name) => {
        const n = byName.get(name)
        if (!n) throw new Error(`no node ${name}`)
        return n
      },
      dir,
      timings: { setupMs, readyMs },
      sysctlsBefore,
      sysctls,
      memory: () => Object.fromEntries(nodes.map((n) => {
        const ext = n as RealNode & { kubelet: Daemon; containerd: Daemon }
        return [n.name, {
          kubelet: ext.kubelet.child?.pid ? rssKiB(ext.kubelet.child.pid) : 0,
          containerd: ext.containerd.child?.pid ? rssKiB(ext.containerd.child.pid) : 0,
          shims: n.shimProcesses().reduce((a, p) => a + p.rssKiB, 0),
        }]
      })),
      stop,
    }
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
}

/** readlink of a process's network namespace (for tests). */
export function netnsOf(pid: number | 'self'): string {
  return readlinkSync(`/proc/${pid}/ns/net`)
}

// ------------------------------------------------------------------ the seed-shaped cluster

/**
 * The shim binaries scripts/build-tools.sh built (SHIM_WASMTIME, SHIM_SPIN in its current.env), or
 * undefined. WASM_ADMISSION_SHIM_WASMTIME / WASM_ADMISSION_SHIM_SPIN name others (a shim built elsewhere).
 */
export function shimBinaries(): { wasmtime: string; spin: string } | undefined {
  try {
    let env: Record<string, string | undefined> = {}
    try {
      env = Object.fromEntries(readFileSync(join(dirname(dirname(toolPaths().kubectl)), 'current.env'), 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    } catch {
      /* not built yet */
    }
    const wasmtime = process.env.WASM_ADMISSION_SHIM_WASMTIME ?? env.SHIM_WASMTIME
    const spin = process.env.WASM_ADMISSION_SHIM_SPIN ?? env.SHIM_SPIN
    return wasmtime && spin && existsSync(wasmtime) && existsSync(spin) ? { wasmtime, spin } : undefined
  } catch {
    return undefined
  }
}

/** The wasmtime shim as containerd runtime `wasmtime` (RuntimeClass handler of the seed's wasm1). */
export function wasmtimeRuntime(binary: string): ShimRuntime {
  return { handler: 'wasmtime', runtimeType: 'io.containerd.wasmtime.v1', binary }
}

/**
 * The same shim registered as runtime `spin` (the seed's spin-test handler), started as
 * containerd-shim-spin-v2. It runs WASI, not Spin apps (the Spin runtime is not on crates.io): Spin-style
 * images are routed there for placement.
 */
export function spinRuntime(binary: string): ShimRuntime {
  return { handler: 'spin', runtimeType: 'io.containerd.spin.v2', binary }
}

/**
 * The seed tutorial's cluster on real nodes: one node with only runc, one with the wasmtime shim
 * (label wasmtime-enabled=yes, RuntimeClass wasm1), one with the shim under the Spin handler
 * (label spin=yes, RuntimeClass spin-test).
 */
export function seedRealNodeSpecs(shims: { wasmtime: string; spin: string } | undefined): RealNodeSpec[] {
  // Without shims (not built) the labelled nodes register no Wasm runtime: admission and placement
  // behave the same, only Wasm containers cannot start there.
  return [
    { name: 'node-runc' },
    { name: 'node-wasmtime', labels: { 'wasmtime-enabled': 'yes' }, shims: shims ? [wasmtimeRuntime(shims.wasmtime)] : [] },
    { name: 'node-spin', labels: { spin: 'yes' }, shims: shims ? [spinRuntime(shims.spin)] : [] },
  ]
}
