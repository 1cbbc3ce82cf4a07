/**
 * Runs a program (a test file's body, the demo) inside a network and mount namespace of its own, so
 * that the real worker nodes' bridges and addresses never touch the host's interfaces, and the mounts
 * containerd and the kubelet make vanish with the namespace.
 *
 *   // test/e2e/real-nodes.test.ts: the launcher (imports nothing else, so tap is not loaded here)
 *   import { runInOwnNamespaces } from '../harness/own-netns.js'
 *   await runInOwnNamespaces(() => import('./real-nodes/body.js'))
 *
 * Outside (in the host's initial network namespace) it re-executes the same node command line under
 * `unshare --net --mount --propagation private` with stdio inherited, forwards SIGINT/SIGTERM/SIGHUP,
 * and exits with the child's status. Inside it brings `lo` up, puts private tmpfs over the fixed host
 * paths containerd, CNI and the kubelet write to (/run/netns, /run/containerd, /var/lib/cni,
 * /var/log/containers, the kubelet's device-plugin socket directory), then runs `body`. Both namespaces die with their last process: nothing to
 * delete. Test traffic stays on loopback or on the bridges inside.
 */
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readlinkSync } from 'node:fs'

/** Set in the re-executed child. */
const INSIDE_ENV = 'WASM_ADMISSION_OWN_NETNS'

/** Host paths that containerd 1.6, the CNI plugins and the kubelet use whatever they are configured with. */
export const PRIVATE_TMPFS = ['/run/netns', '/run/containerd', '/var/lib/cni', '/var/log/containers', '/var/lib/kubelet/device-plugins']

/** Set by the launcher for the child: the network namespace the launcher ran in (the host's). */
const HOST_NETNS_ENV = 'WASM_ADMISSION_HOST_NETNS'

/**
 * The host's initial network namespace: PID 1's, or, where PID 1's is unreadable (on these VMs PID 1
 * holds capabilities the shell lacks, so /proc/1/ns/net gives EACCES), the one the launcher ran in.
 */
function hostNetns(): string | undefined {
  try {
    return readlinkSync('/proc/1/ns/net')
  } catch {
    return process.env[HOST_NETNS_ENV]
  }
}

/**
 * True when this process is in the host's initial network namespace (the host's own interfaces), or
 * when that cannot be told (no reference: assume the worst).
 */
export function inInitialNetns(): boolean {
  const host = hostNetns()
  return host === undefined || readlinkSync('/proc/self/ns/net') === host
}

/** Throws unless this process runs in a network namespace other than the host's (before any `ip addr add`). */
export function assertOwnNetns(what: string): void {
  if (inInitialNetns()) {
    throw new Error(`refusing to ${what} in the host's initial network namespace (or one that cannot be told from it: /proc/1/ns/net unreadable and no ${HOST_NETNS_ENV}); run it through runInOwnNamespaces (test/harness/own-netns.ts)`)
  }
}

/** True inside the namespaces runInOwnNamespaces made. */
export function insideOwnNamespaces(): boolean {
  return process.env[INSIDE_ENV] === '1' && !inInitialNetns()
}

/** Why this machine cannot make the namespaces, or undefined. */
export function ownNamespacesMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: network and mount namespaces need root'
  for (const cmd of ['/usr/bin/setpriv', '/usr/bin/unshare', '/usr/sbin/ip', '/usr/bin/mount']) if (!existsSync(cmd)) return `${cmd} is missing (util-linux, iproute2: scripts/install-system-deps.sh)`
  return undefined
}

function setUpInside(): void {
  execFileSync('/usr/sbin/ip', ['link', 'set', 'lo', 'up'])
  for (const dir of PRIVATE_TMPFS) {
    mkdirSync(dir, { recursive: true })
    execFileSync('/usr/bin/mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=64m', 'wasm-admission-ns', dir])
  }
}

/**
 * Runs `body` inside a fresh network + mount namespace. In the parent it never returns: the process
 * exits with the child's status (128 + signal number when the child died of a signal).
 */
export async function runInOwnNamespaces(body: () => Promise<unknown>): Promise<void> {
  if (process.env[INSIDE_ENV] === '1') {
    if (inInitialNetns()) throw new Error(`${INSIDE_ENV}=1 but this process is in the host's network namespace`)
    setUpInside()
    await body()
    return
  }
  const missing = ownNamespacesMissing()
  if (missing) throw new Error(`cannot create the harness network namespace: ${missing}`)
  // setpriv --pdeathsig: the child dies with this launcher even when it is SIGKILLed; setpriv execs
  // unshare, which execs node, so the child's pid is node's.
  const argv = ['--pdeathsig', 'KILL', '--', '/usr/bin/unshare', '--net', '--mount', '--propagation', 'private', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)]
  const child = spawn('/usr/bin/setpriv', argv, {
    stdio: 'inherit',
    env: { ...process.env, [INSIDE_ENV]: '1', [HOST_NETNS_ENV]: readlinkSync('/proc/self/ns/net') },
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      try {
        child.kill(sig)
      } catch {
        /* gone */
      }
    })
  }
  const code = await new Promise<number>((resolve) => {
    child.once('exit', (c, s) => resolve(c ?? 128 + (s ? (({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }) as Record<string, number>)[s] ?? 1 : 1)))
    child.once('error', (e) => {
      process.stderr.write(`unshare failed: ${e.message}\n`)
      resolve(1)
    })
  })
  process.exit(code)
}
