// A real Kubernetes control plane for integration tests: etcd + kube-apiserver (+ optional
// kube-controller-manager and kube-scheduler) as plain child processes, built by scripts/build-tools.sh.
// Modelled on controller-runtime's envtest. Uses only node: builtins and the `openssl` CLI.
//
//   const cp = await startControlPlane({ withControllerManager: true, withScheduler: true });
//   t.teardown(() => cp.stop());
//   await cp.kubectl(['get', 'nodes']);
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { missingTools, toolPaths, type ToolPaths } from './tools.js';
import { freePorts, httpGet, run, type HttpGetOptions as HttpOpts } from './process.js';

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (and keep the ServiceAccount admission plugin on). Default false. */
  withControllerManager?: boolean;
  /**
   * Controllers for kube-controller-manager's --controllers. Default: every default controller except
   * node-lifecycle and taint-eviction (they would taint/evict on fake Nodes that have no kubelet).
   */
  controllers?: string[];
  /** Extra kube-apiserver flags, appended last (so they win for single-valued flags). */
  apiserverArgs?: string[];
  /** Extra kube-controller-manager flags, appended last. */
  controllerManagerArgs?: string[];
  /**
   * Also run kube-scheduler (leader election off, loopback only, its own client cert
   * CN=system:kube-scheduler, bound by the apiserver's default RBAC). Default false.
   */
  withScheduler?: boolean;
  /**
   * Extra top-level fields of the scheduler's KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1),
   * e.g. `{ podInitialBackoffSeconds: 1 }`; clientConnection and leaderElection are set by the harness.
   */
  schedulerConfig?: Record<string, unknown>;
  /** Extra kube-scheduler flags, appended last. */
  schedulerArgs?: string[];
  /** Override tool paths (default: toolPaths() from tools.ts). */
  tools?: Partial<ToolPaths>;
  /** Deadline for each component to become ready, in ms. Default 120000. */
  startTimeoutMs?: number;
  /** Keep the temp dir (certs, logs, etcd data) after stop(). Default: env WASM_ADMISSION_KEEP_CLUSTER=1. */
  keepDir?: boolean;
  /** Parent for the temp dir. Default os.tmpdir(). */
  tmpRoot?: string;
  /** How long stop()/restarts wait after SIGTERM before SIGKILL, in ms. Default 10000. */
  stopGraceMs?: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. for `apply -f -`). */
  input?: string;
  /** Do not throw on a non-zero exit code. Default false. */
  allowFailure?: boolean;
  /** Kill kubectl after this many ms. Default 60000. */
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RestartOptions {
  /**
   * Wait this long after SIGTERM before SIGKILL, in ms (default: the plane's stopGraceMs).
   * 0 kills at once (SIGKILL), i.e. simulates a crash.
   */
  graceMs?: number;
}

export interface ControlPlane {
  /** Admin kubeconfig (client cert with O=system:masters; certs embedded). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM of the CA that signed the apiserver serving cert. */
  caPem: string;
  /** The admin client certificate and key (PEM; O=system:masters), for HTTPS clients of the apiserver. */
  admin: { certPem: string; keyPem: string };
  /** Temp dir with certs/, logs/, etcd data and the kubeconfig. */
  dir: string;
  etcdUrl: string;
  /** Log file of each component (restarts append to the same file). */
  logs: Record<ComponentName, string>;
  /** PIDs (= process group ids) of the running components. */
  pids(): Partial<Record<ComponentName, number>>;
  /** Stops all components (SIGTERM to each process group, SIGKILL after a grace period); idempotent. */
  stop(): Promise<void>;
  /** Stops and restarts kube-apiserver on the same port and certs, waits for /readyz. */
  restartApiserver(opts?: RestartOptions): Promise<void>;
  /** Stops and restarts etcd on the same port and data dir, waits for it and for the apiserver's /readyz. */
  restartEtcd(opts?: RestartOptions): Promise<void>;
  /** Stops and restarts kube-scheduler (withScheduler only), waits for its /readyz. */
  restartScheduler(opts?: RestartOptions): Promise<void>;
  /** Runs kubectl against this plane. Throws on non-zero exit unless allowFailure. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
}

const DEFAULT_STOP_GRACE_MS = 10_000;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const SERVICE_CIDR = '10.0.0.0/24';
const DEFAULT_CONTROLLERS = ['*', '-node-lifecycle-controller', '-taint-eviction-controller'];

// ---------------------------------------------------------------------------------------------
// Process bookkeeping shared by every plane in this process (for signal / exit cleanup).

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let handlersInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function emergencyCleanup(): void {
  for (const child of liveChildren) killGroup(child, 'SIGKILL');
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.removeListener('exit', emergencyCleanup);
  process.on('exit', emergencyCleanup);
  const handlers = {} as Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', () => void>;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      emergencyCleanup();
      // Re-raise without us. Always, even when other listeners remain: signal-exit (used by tap)
      // only re-raises when it is the last listener, so it would have deferred to us on this round.
      // With no listeners left the process dies the default way.
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, handlers[s]);
      handlersInstalled = false;
      process.kill(process.pid, sig);
    };
    handlers[sig] = handler;
    process.on(sig, handler);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.



async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args.map((a) => a.replaceAll('{dir}', cwd)));
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

function tail(file: string, lines = 40): string {
  try {
    const text = readFileSync(file, 'utf8').split('\n');
    return text.slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}



// ---------------------------------------------------------------------------------------------
// Certificates.

interface Certs {
  caCrt: string;
  caKey: string;
  servingCrt: string;
  servingKey: string;
  clientCaCrt: string;
  adminCrt: string;
  adminKey: string;
  schedulerCrt: string;
  schedulerKey: string;
  saKey: string;
  saPub: string;
}

async function generateCerts(dir: string): Promise<Certs> {
  mkdirSync(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30'];
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  // Two CAs, like a real cluster: one for serving certs, one for client certs.
  await Promise.all([
    openssl(['req', '-x509', ...ec, '-subj', '/CN=wasm-admission-test-ca', ...caExt, '-keyout', p('ca.key'), '-out', p('ca.crt')], dir),
    openssl(['req', '-x509', ...ec, '-subj', '/CN=wasm-admission-test-client-ca', ...caExt, '-keyout', p('client-ca.key'), '-out', p('client-ca.crt')], dir),
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('sa.key')], dir),
  ]);
  const leaf = (ca: string, caKey: string): string[] => ['-CA', p(ca), '-CAkey', p(caKey), '-addext', 'basicConstraints=critical,CA:FALSE'];
  await Promise.all([
    openssl([
      'req', '-x509', ...ec, ...leaf('ca.crt', 'ca.key'), '-subj', '/CN=kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth',
      '-keyout', p('apiserver.key'), '-out', p('apiserver.crt'),
    ], dir),
    openssl([
      'req', '-x509', ...ec, ...leaf('client-ca.crt', 'client-ca.key'), '-subj', '/O=system:masters/CN=admin',
      '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=clientAuth',
      '-keyout', p('admin.key'), '-out', p('admin.crt'),
    ], dir),
    // kube-scheduler's identity: the apiserver's bootstrap RBAC binds system:kube-scheduler and
    // system:volume-scheduler to this user name.
    openssl([
      'req', '-x509', ...ec, ...leaf('client-ca.crt', 'client-ca.key'), '-subj', '/CN=system:kube-scheduler',
      '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=clientAuth',
      '-keyout', p('scheduler.key'), '-out', p('scheduler.crt'),
    ], dir),
    openssl(['pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')], dir),
  ]);
  return {
    caCrt: p('ca.crt'),
    caKey: p('ca.key'),
    servingCrt: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    clientCaCrt: p('client-ca.crt'),
    adminCrt: p('admin.crt'),
    adminKey: p('admin.key'),
    schedulerCrt: p('scheduler.crt'),
    schedulerKey: p('scheduler.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

function kubeconfigYaml(server: string, certs: Certs, user: { crt: string; key: string } = { crt: certs.adminCrt, key: certs.adminKey }): string {
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: wasm-admission-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(certs.caCrt)}`,
    'users:',
    '- name: admin',
    '  user:',
    `    client-certificate-data: ${b64(user.crt)}`,
    `    client-key-data: ${b64(user.key)}`,
    'contexts:',
    '- name: wasm-admission-test',
    '  context:',
    '    cluster: wasm-admission-test',
    '    user: admin',
    '    namespace: default',
    'current-context: wasm-admission-test',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Components.

class Component {
  child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: string | undefined;

  constructor(
    readonly name: ComponentName,
    readonly bin: string,
    readonly args: () => string[],
    readonly logFile: string,
  ) {}

  start(): void {
    if (this.child) throw new Error(`${this.name} already running`);
    const fd = openSync(this.logFile, 'a');
    writeSync(fd, `\n===== ${new Date().toISOString()} starting ${this.name} =====\n${this.bin} ${this.args().join(' ')}\n`);
    let child: ChildProcess;
    try {
      // detached: own process group, so stop() can kill the whole group (-pid).
      // setpriv --pdeathsig: the kernel SIGKILLs the child if this process dies without cleaning up
      // (e.g. SIGKILL of the test runner); setpriv execs the binary, so the pid is the binary's.
      const [cmd, args] = SETPRIV
        ? [SETPRIV, ['--pdeathsig', 'KILL', '--', this.bin, ...this.args()]]
        : [this.bin, this.args()];
      child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    this.exitInfo = undefined;
    liveChildren.add(child);
    this.exited = new Promise<void>((resolve) => {
      const done = (info: string): void => {
        if (this.exitInfo === undefined) this.exitInfo = info;
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once('exit', (code, signal) => done(`exited with ${signal ?? `code ${code}`}`));
      child.once('error', (err) => done(`failed to spawn: ${err.message}`));
    });
  }

  /** Why the last process ended, if it has. */
  get exitReason(): string | undefined {
    return this.child ? undefined : this.exitInfo;
  }

  /** SIGTERM to the process group, SIGKILL after graceMs (0: SIGKILL at once); resolves when it has exited. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    killGroup(child, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the leader left behind in its group.
    killGroup(child, 'SIGKILL');
  }

  failure(what: string): Error {
    return new Error(`${this.name} ${what}${this.exitReason ? ` (${this.exitReason})` : ''}; log ${this.logFile}, tail:\n${tail(this.logFile)}`);
  }

  /** Polls check() until it returns true; fails early if the process exits. */
  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr = '';
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      if (!this.child) throw this.failure(`exited before ${what}`);
      try {
        if (await check()) return;
      } catch (err) {
        lastErr = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) throw this.failure(`not ${what} after ${timeoutMs} ms${lastErr ? ` (last error: ${lastErr})` : ''}`);
      await delay(wait);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Starts etcd, kube-apiserver and (withControllerManager) kube-controller-manager on free loopback ports
 * and waits until they are ready. Retries with new ports (up to 3 attempts) when a port was taken between
 * picking and binding it.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
    }
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const tools: ToolPaths = { ...toolPaths(), ...opts.tools };
  const missing = missingTools(tools).filter((k) => neededTools(opts).includes(k));
  if (missing.length > 0) {
    throw new Error(`control plane tools missing: ${missing.map((k) => tools[k]).join(', ')}; run scripts/build-tools.sh`);
  }
  const timeoutMs = opts.startTimeoutMs ?? 120_000;
  const keepDir = opts.keepDir ?? process.env.WASM_ADMISSION_KEEP_CLUSTER === '1';
  const withKcm = opts.withControllerManager ?? false;
  const withScheduler = opts.withScheduler ?? false;
  const graceMs = opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;

  installProcessHandlers();
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'wasm-admission-cp-'));
  if (!keepDir) liveDirs.add(dir);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const logs: Record<ComponentName, string> = {
    etcd: join(logDir, 'etcd.log'),
    'kube-apiserver': join(logDir, 'kube-apiserver.log'),
    'kube-controller-manager': join(logDir, 'kube-controller-manager.log'),
    'kube-scheduler': join(logDir, 'kube-scheduler.log'),
  };

  const components: Component[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Reverse start order: scheduler, controller-manager, apiserver, etcd.
    for (const c of [...components].reverse()) await c.stop(graceMs);
    if (!keepDir) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  };

  try {
    const certs = await generateCerts(join(dir, 'certs'));
    const caPem = readFileSync(certs.caCrt, 'utf8');
    const adminCert = readFileSync(certs.adminCrt, 'utf8');
    const adminKey = readFileSync(certs.adminKey, 'utf8');
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort] = (await freePorts(5)) as [number, number, number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, certs), { mode: 0o600 });
    const schedulerKubeconfig = join(dir, 'scheduler.kubeconfig');
    const schedulerConfigPath = join(dir, 'scheduler-config.json');
    if (withScheduler) {
      writeFileSync(schedulerKubeconfig, kubeconfigYaml(server, certs, { crt: certs.schedulerCrt, key: certs.schedulerKey }), { mode: 0o600 });
      // JSON is YAML: the scheduler reads its configuration file with a YAML decoder.
      const config = {
        ...opts.schedulerConfig,
        apiVersion: 'kubescheduler.config.k8s.io/v1',
        kind: 'KubeSchedulerConfiguration',
        clientConnection: { ...(opts.schedulerConfig?.['clientConnection'] as object | undefined), kubeconfig: schedulerKubeconfig },
        leaderElection: { leaderElect: false },
      };
      writeFileSync(schedulerConfigPath, JSON.stringify(config, null, 2) + '\n');
    }

    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = new Component('etcd', tools.etcd, () => [
      '--name=default',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeer}`,
      `--initial-advertise-peer-urls=${etcdPeer}`,
      `--initial-cluster=default=${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], logs.etcd);

    const apiserver = new Component('kube-apiserver', tools.kubeApiserver, () => [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${certs.servingCrt}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.clientCaCrt}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      '--enable-admission-plugins=RuntimeClass',
      ...(withKcm ? [] : ['--disable-admission-plugins=ServiceAccount']),
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      // Endpoints may not hold loopback addresses; without this the `kubernetes` Service
      // endpoint reconciler logs errors forever.
      '--endpoint-reconciler-type=none',
      // Close open watches promptly on SIGTERM; otherwise graceful HTTP shutdown can wait 60 s for them.
      '--shutdown-watch-termination-grace-period=2s',
      // Real worker nodes (real-nodes.ts): the apiserver authenticates to kubelets (logs, exec) with the
      // admin client cert, which their x509 authenticator (this client CA) accepts; node names do not
      // resolve, so dial the InternalIP the kubelet reports.
      `--kubelet-client-certificate=${certs.adminCrt}`,
      `--kubelet-client-key=${certs.adminKey}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      ...(opts.apiserverArgs ?? []),
    ], logs['kube-apiserver']);

    const kcm = new Component('kube-controller-manager', tools.kubeControllerManager, () => [
      `--kubeconfig=${kubeconfigPath}`,
      // No --authentication/--authorization-kubeconfig: delegated auth would look up the requestheader CA
      // this apiserver does not have (error spam). Its /healthz is in the default always-allow paths.
      `--root-ca-file=${certs.caCrt}`,
      `--service-account-private-key-file=${certs.saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'kcm-certs')}`,
      '--leader-elect=false',
      `--controllers=${(opts.controllers ?? DEFAULT_CONTROLLERS).join(',')}`,
      ...(opts.controllerManagerArgs ?? []),
    ], logs['kube-controller-manager']);

    const scheduler = new Component('kube-scheduler', tools.kubeScheduler, () => [
      `--config=${schedulerConfigPath}`,
      // As for the controller-manager: no delegated authn/authz kubeconfigs; /readyz and /healthz
      // are in the default always-allow paths.
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${join(dir, 'scheduler-certs')}`,
      ...(opts.schedulerArgs ?? []),
    ], logs['kube-scheduler']);

    const tls: HttpOpts = { ca: caPem, cert: adminCert, key: adminKey };
    const etcdHealthy = async (): Promise<boolean> => {
      const r = await httpGet(`${etcdUrl}/health`);
      return r.status === 200 && /"health":\s*"true"/.test(r.body);
    };
    const apiReady = async (): Promise<boolean> => (await httpGet(`${server}/readyz`, tls)).status === 200;

    const startEtcd = async (): Promise<void> => {
      etcd.start();
      await etcd.waitUntil('healthy', etcdHealthy, timeoutMs);
    };
    const startApiserver = async (): Promise<void> => {
      apiserver.start();
      await apiserver.waitUntil('ready (/readyz)', apiReady, timeoutMs);
    };

    components.push(etcd);
    await startEtcd();
    components.push(apiserver);
    await startApiserver();
    if (withKcm) {
      components.push(kcm);
      kcm.start();
      await kcm.waitUntil('healthy (/healthz)', async () => (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true })).status === 200, timeoutMs);
    }
    // /readyz includes sched-handler-sync: the scheduler's informers have synced and its event
    // handlers are installed, so a pod created after this is seen.
    const schedulerReady = async (): Promise<boolean> => (await httpGet(`https://127.0.0.1:${schedPort}/readyz`, { insecure: true })).status === 200;
    const startScheduler = async (): Promise<void> => {
      scheduler.start();
      await scheduler.waitUntil('ready (/readyz)', schedulerReady, timeoutMs);
    };
    if (withScheduler) {
      components.push(scheduler);
      await startScheduler();
    }

    const kubectlEnv = { ...process.env, KUBECONFIG: kubeconfigPath };
    const plane: ControlPlane = {
      kubeconfigPath,
      server,
      caPem,
      admin: { certPem: adminCert, keyPem: adminKey },
      dir,
      etcdUrl,
      logs,
      pids: () => {
        const out: Partial<Record<ComponentName, number>> = {};
        for (const c of components) if (c.child?.pid !== undefined) out[c.name] = c.child.pid;
        return out;
      },
      stop,
      restartApiserver: async (ropts = {}) => {
        if (stopped) throw new Error('control plane is stopped');
        await apiserver.stop(ropts.graceMs ?? graceMs);
        await startApiserver();
      },
      restartEtcd: async (ropts = {}) => {
        if (stopped) throw new Error('control plane is stopped');
        await etcd.stop(ropts.graceMs ?? graceMs);
        await startEtcd();
        await apiserver.waitUntil('ready (/readyz) after etcd restart', apiReady, timeoutMs);
      },
      restartScheduler: async (ropts = {}) => {
        if (stopped) throw new Error('control plane is stopped');
        if (!withScheduler) throw new Error('control plane was started without withScheduler');
        await scheduler.stop(ropts.graceMs ?? graceMs);
        await startScheduler();
      },
      kubectl: async (args, kopts = {}) => {
        const full = [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${join(dir, 'kubectl-cache')}`, ...args];
        const r = await run(tools.kubectl, full, { input: kopts.input, timeoutMs: kopts.timeoutMs ?? 60_000, env: kubectlEnv });
        if (r.code !== 0 && !kopts.allowFailure) {
          throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
        }
        return r;
      },
    };
    return plane;
  } catch (err) {
    await stop().catch(() => undefined);
    if (err instanceof Error) {
      err.message += keepDir ? `\n(kept ${dir})` : '\n(temp dir removed; set WASM_ADMISSION_KEEP_CLUSTER=1 or keepDir to keep it)';
    }
    throw err;
  }
}

/** The tools a plane with these options runs. */
function neededTools(opts: Pick<ControlPlaneOptions, 'withControllerManager' | 'withScheduler'>): (keyof ToolPaths)[] {
  const out: (keyof ToolPaths)[] = ['etcd', 'kubeApiserver', 'kubectl'];
  if (opts.withControllerManager) out.push('kubeControllerManager');
  if (opts.withScheduler) out.push('kubeScheduler');
  return out;
}

/** True when the binaries startControlPlane needs are built (for skipping integration tests). */
export function controlPlaneToolsAvailable(withControllerManager = false, withScheduler = false): boolean {
  const needed = neededTools({ withControllerManager, withScheduler });
  const missing = missingTools().filter((k) => needed.includes(k));
  return missing.length === 0 && onPath('openssl');
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}
