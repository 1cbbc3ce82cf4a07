/**
 * Loads a KubeConfig without reading `process`: an explicit path, else $KUBECONFIG (first entry),
 * else ~/.kube/config when it exists, else the in-cluster service account (when
 * KUBERNETES_SERVICE_HOST is set in env).
 */
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'

export function loadKubeConfig(path: string | undefined, env: Record<string, string | undefined>): { kubeConfig: KubeConfig; origin: string } {
  const kc = new KubeConfig()
  const fromEnv = env.KUBECONFIG?.split(delimiter).find((p) => p !== '')
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined
  const file = path ?? fromEnv ?? (home && existsSync(home) ? home : undefined)
  if (file) {
    kc.loadFromFile(file)
    if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${file} has no current cluster`)
    return { kubeConfig: kc, origin: `kubeconfig ${file}` }
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster()
    return { kubeConfig: kc, origin: 'in-cluster service account' }
  }
  throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster')
}
