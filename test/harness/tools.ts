// Paths of the real-cluster test tools built by scripts/build-tools.sh.
// Versions come from test/harness/versions.env, the single place both bash and TypeScript read.
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ToolVersions {
  /** k8s.io/kubernetes version, e.g. v1.36.3 (also the stamped gitVersion). */
  k8s: string;
  /** Version of the k8s.io/* staging modules the wrapper module replaces, e.g. v0.36.3. */
  k8sStaging: string;
  etcd: string;
  helm: string;
}

export interface ToolPaths {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  kubectl: string;
  etcd: string;
  helm: string;
}

const VERSIONS_FILE = join(import.meta.dirname, 'versions.env');

/** Parses versions.env (plain KEY=VALUE lines, '#' comments). */
export function readVersionsEnv(file: string = VERSIONS_FILE): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: malformed line: ${raw}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export function toolVersions(): ToolVersions {
  const env = readVersionsEnv();
  const get = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`${VERSIONS_FILE}: ${k} is missing`);
    return v;
  };
  return {
    k8s: get('K8S_VERSION'),
    k8sStaging: get('K8S_STAGING_VERSION'),
    etcd: get('ETCD_VERSION'),
    helm: get('HELM_VERSION'),
  };
}

/** ${WASM_ADMISSION_CACHE:-$HOME/.cache/wasm-admission}/tools, as in scripts/build-tools.sh. */
export function toolsCacheDir(): string {
  const cache = process.env.WASM_ADMISSION_CACHE || join(homedir(), '.cache', 'wasm-admission');
  return join(cache, 'tools');
}

/** Absolute paths of the built tools (same layout as scripts/build-tools.sh; not checked for existence). */
export function toolPaths(): ToolPaths {
  const v = toolVersions();
  const tools = toolsCacheDir();
  const k8s = join(tools, `k8s-${v.k8s}`);
  return {
    kubeApiserver: join(k8s, 'kube-apiserver'),
    kubeControllerManager: join(k8s, 'kube-controller-manager'),
    kubeScheduler: join(k8s, 'kube-scheduler'),
    kubelet: join(k8s, 'kubelet'),
    kubeProxy: join(k8s, 'kube-proxy'),
    kubectl: join(k8s, 'kubectl'),
    etcd: join(tools, `etcd-${v.etcd}`, 'etcd'),
    helm: join(tools, `helm-${v.helm}`, 'helm'),
  };
}

/** Names (keys of ToolPaths) of tools that are not present/executable; empty when all are built. */
export function missingTools(paths: ToolPaths = toolPaths()): (keyof ToolPaths)[] {
  return (Object.keys(paths) as (keyof ToolPaths)[]).filter((k) => {
    try {
      accessSync(paths[k], constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}
