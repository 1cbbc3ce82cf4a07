// Integration test of the real control plane harness (etcd + kube-apiserver [+ kube-controller-manager]).
// Needs the binaries from scripts/build-tools.sh; skipped when they are missing unless
// WASM_ADMISSION_REQUIRE_CLUSTER=1, which turns the skip into a failure.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { controlPlaneToolsAvailable, startControlPlane, type ControlPlane } from './control-plane.js';
import { toolVersions } from './tools.js';

const required = process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1';
const available = controlPlaneToolsAvailable(true);
if (!available && required) {
  t.fail('control-plane tools are not built (run scripts/build-tools.sh) and WASM_ADMISSION_REQUIRE_CLUSTER=1');
}
const skip = available ? false : 'control-plane tools not built: run scripts/build-tools.sh';
const schedulerAvailable = controlPlaneToolsAvailable(false, true);
if (!schedulerAvailable && required) t.fail('kube-scheduler is not built (run scripts/build-tools.sh) and WASM_ADMISSION_REQUIRE_CLUSTER=1');
const skipScheduler = schedulerAvailable ? false : 'kube-scheduler not built: run scripts/build-tools.sh';

/** True while pid exists and is not a zombie (an orphan's zombie may linger if PID 1 does not reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function getJson(cp: ControlPlane, args: string[]): Promise<any> {
  const r = await cp.kubectl([...args, '-o', 'json']);
  return JSON.parse(r.stdout);
}

/** GET with only the plane's CA (anonymous): proves `server` + `caPem` are usable by a plain HTTPS client. */
function getVersionWithCa(cp: ControlPlane): Promise<{ gitVersion: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(`${cp.server}/version`, { ca: cp.caPem, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

async function pollUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(250);
  }
}

const node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'wasm-node-1', labels: { 'runtime.wasm/shim': 'spin' } },
};
const runtimeClass = {
  apiVersion: 'node.k8s.io/v1',
  kind: 'RuntimeClass',
  metadata: { name: 'wasmtime-spin' },
  handler: 'spin',
  scheduling: { nodeSelector: { 'runtime.wasm/shim': 'spin' } },
};

t.test('etcd + kube-apiserver: objects, version stamp, restarts, teardown', { skip }, async (t) => {
  const started = Date.now();
  const cp = await startControlPlane();
  t.teardown(() => cp.stop());
  t.comment(`control plane ready in ${Date.now() - started} ms at ${cp.server}`);

  const pids = cp.pids();
  t.ok(pids.etcd && pids['kube-apiserver'], 'etcd and apiserver running');
  t.notOk(pids['kube-controller-manager'], 'no controller-manager unless asked');

  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [node, runtimeClass] }) });
  const n = await getJson(cp, ['get', 'node', 'wasm-node-1']);
  t.equal(n.metadata.labels['runtime.wasm/shim'], 'spin', 'node label read back');
  const rc = await getJson(cp, ['get', 'runtimeclass.node.k8s.io', 'wasmtime-spin']);
  t.equal(rc.handler, 'spin', 'RuntimeClass handler read back');
  t.same(rc.scheduling.nodeSelector, { 'runtime.wasm/shim': 'spin' }, 'RuntimeClass scheduling read back');

  const want = toolVersions().k8s;
  const v = await getJson(cp, ['version']);
  t.equal(v.serverVersion.gitVersion, want, `server version stamped ${want}`);
  t.equal(v.clientVersion.gitVersion, want, `kubectl version stamped ${want}`);
  t.equal((await getVersionWithCa(cp)).gitVersion, want, 'server + caPem work for a plain HTTPS client');

  let t0 = Date.now();
  await cp.restartApiserver();
  t.comment(`apiserver restart took ${Date.now() - t0} ms`);
  t.not(cp.pids()['kube-apiserver'], pids['kube-apiserver'], 'apiserver has a new pid');
  t.notOk(alive(pids['kube-apiserver']!), 'old apiserver process is gone');
  t.equal((await getJson(cp, ['get', 'node', 'wasm-node-1'])).metadata.name, 'wasm-node-1', 'node readable after apiserver restart');

  t0 = Date.now();
  await cp.restartEtcd();
  t.comment(`etcd restart took ${Date.now() - t0} ms`);
  t.not(cp.pids().etcd, pids.etcd, 'etcd has a new pid');
  t.equal((await getJson(cp, ['get', 'runtimeclass', 'wasmtime-spin'])).handler, 'spin', 'RuntimeClass survives etcd restart');

  const before = Object.values(cp.pids());
  await cp.stop();
  for (const pid of before) t.notOk(alive(pid), `process ${pid} is gone after stop()`);
  t.same(cp.pids(), {}, 'no running components');
  t.notOk(existsSync(cp.dir), 'temp dir removed');
  await cp.stop(); // idempotent
});

t.test('with kube-controller-manager: a Deployment gets Pods', { skip }, async (t) => {
  const started = Date.now();
  const cp = await startControlPlane({ withControllerManager: true });
  t.teardown(() => cp.stop());
  t.comment(`control plane + controller-manager ready in ${Date.now() - started} ms`);
  t.ok(cp.pids()['kube-controller-manager'], 'controller-manager running');

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'demo', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'demo' } },
      template: {
        metadata: { labels: { app: 'demo' } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/demo:1' }] },
      },
    },
  };
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
  const pods = await pollUntil('pods of Deployment demo', async () => {
    const list = await getJson(cp, ['get', 'pods', '-n', 'default', '-l', 'app=demo']);
    return list.items.length >= 2 ? list.items : undefined;
  }, 120_000);
  t.equal(pods.length, 2, 'ReplicaSet controller created 2 pods');
  t.equal(pods[0].spec.serviceAccountName, 'default', 'ServiceAccount admission plugin is active');

  const before = Object.values(cp.pids());
  t.equal(before.length, 3, 'three components running');
  await cp.stop();
  for (const pid of before) t.notOk(alive(pid), `process ${pid} is gone after stop()`);
});

t.test('with kube-scheduler: pods are bound to a feasible node, others stay Unschedulable, restart works', { skip: skipScheduler }, async (t) => {
  const started = Date.now();
  const cp = await startControlPlane({ withScheduler: true });
  t.teardown(() => cp.stop());
  t.comment(`control plane + scheduler ready in ${Date.now() - started} ms`);
  const pids = cp.pids();
  t.ok(pids['kube-scheduler'], 'scheduler running');
  t.notOk(pids['kube-controller-manager'], 'no controller-manager unless asked');

  // A Node needs allocatable resources (written through the status subresource) to take pods.
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'sched-node', labels: { zone: 'a' } } }) });
  const status = { status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '8Gi', pods: '110' } } };
  await cp.kubectl(['patch', 'node', 'sched-node', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  // The apiserver's TaintNodesByCondition admission plugin gives every new Node the not-ready taint;
  // the node lifecycle controller (not running here) removes it once the node is Ready.
  const taints = (await getJson(cp, ['get', 'node', 'sched-node'])).spec.taints;
  t.same(taints, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }], 'a new Node starts with the not-ready taint');
  await cp.kubectl(['taint', 'node', 'sched-node', 'node.kubernetes.io/not-ready:NoSchedule-']);

  const pod = (name: string, nodeSelector: Record<string, string>): unknown => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeSelector, containers: [{ name: 'app', image: 'registry.invalid/demo:1' }] },
  });
  const boundTo = async (name: string): Promise<string | undefined> => (await getJson(cp, ['get', 'pod', name])).spec.nodeName || undefined;
  const unschedulable = async (name: string): Promise<string | undefined> => {
    const conds: Array<{ type: string; status: string; reason?: string; message?: string }> = (await getJson(cp, ['get', 'pod', name])).status.conditions ?? [];
    const c = conds.find((x) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'Unschedulable');
    return c?.message;
  };

  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod('fits', { zone: 'a' })) });
  t.equal(await pollUntil('pod fits to be bound', () => boundTo('fits'), 60_000), 'sched-node', 'the scheduler bound the pod');
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod('misfit', { zone: 'b' })) });
  const msg = await pollUntil('pod misfit to be Unschedulable', () => unschedulable('misfit'), 60_000);
  t.match(msg, /0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/, 'the scheduler\'s own message');
  t.equal(await boundTo('misfit'), undefined, 'misfit is not bound');

  await cp.restartScheduler();
  t.not(cp.pids()['kube-scheduler'], pids['kube-scheduler'], 'scheduler has a new pid');
  t.notOk(alive(pids['kube-scheduler']!), 'old scheduler process is gone');
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod('after-restart', {})) });
  t.equal(await pollUntil('pod after-restart to be bound', () => boundTo('after-restart'), 60_000), 'sched-node', 'bound after the restart');

  const before = Object.values(cp.pids());
  t.equal(before.length, 3, 'etcd, apiserver and scheduler running');
  await cp.stop();
  for (const pid of before) t.notOk(alive(pid), `process ${pid} is gone after stop()`);
});

/**
 * Starts a plane in a separate Node process, then sends it `signal`. Returns the components' pids and
 * the plane's dir once that process has exited.
 */
async function planeInKilledProcess(signal: NodeJS.Signals): Promise<{ pids: number[]; dir: string; exit: string }> {
  const mod = pathToFileURL(join(import.meta.dirname, 'control-plane.ts')).href;
  const code = [
    `const { startControlPlane } = await import(${JSON.stringify(mod)});`,
    'const cp = await startControlPlane();',
    "process.stdout.write(JSON.stringify({ pids: Object.values(cp.pids()), dir: cp.dir }) + '\\n');",
    'setInterval(() => {}, 60_000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<string>((resolve) => child.on('exit', (c, s) => resolve(s ?? `code ${c}`)));
  const info = await new Promise<{ pids: number[]; dir: string }>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    void exited.then((how) => reject(new Error(`plane process exited early (${how}): ${err}`)));
  });
  child.kill(signal);
  const exit = await exited;
  return { ...info, exit };
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  t.test(`no stray processes when the test process gets ${signal}`, { skip }, async (t) => {
    const { pids, dir, exit } = await planeInKilledProcess(signal);
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    t.equal(exit, signal, `plane process died of ${signal}`);
    t.equal(pids.length, 2, 'it had etcd and apiserver running');
    // SIGTERM/SIGINT: the handler kills the groups synchronously; SIGKILL: the kernel's parent-death signal.
    await pollUntil('components to exit', async () => (pids.some(alive) ? undefined : true), 10_000);
    for (const pid of pids) t.notOk(alive(pid), `component ${pid} is gone`);
    if (signal !== 'SIGKILL') t.notOk(existsSync(dir), 'temp dir removed by the signal handler');
  });
}
