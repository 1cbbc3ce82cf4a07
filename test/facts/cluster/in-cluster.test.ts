// The in-cluster connection (the one every real install uses) against a real kube-apiserver: a
// ServiceAccount with only the chart's list/watch rights, a real token from the TokenRequest API
// (`kubectl create token`), a service-account directory (token, ca.crt, namespace) and
// KUBERNETES_SERVICE_HOST/PORT, read by src/facts/cluster/kubeconfig.ts. Then the token is revoked
// (the ServiceAccount deleted and created again: the apiserver checks the token's ServiceAccount
// UID) and the file rotated to a new token: requests succeed again only because the file is re-read.
import t from 'tap'
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { request } from 'undici'
import { InformerClusterSource } from '../../../src/facts/cluster/informers.js'
import { loadKubeConnection, type KubeConnection } from '../../../src/facts/cluster/kubeconfig.js'
import { testPolicy } from './helpers.js'
import { planeSkipReason, startPlane, waitFor } from './plane.js'

t.test('in-cluster service account on a real kube-apiserver', { skip: planeSkipReason() ?? false }, async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  const ns = 'wasm-admission'
  const sa = 'wasm-admission-reader'
  await cp.kubectl(['create', 'namespace', ns])
  // The chart's cluster-facts rules (charts/wasm-admission/templates/clusterrole.yaml): list/watch only.
  await cp.kubectl(['create', 'clusterrole', sa, '--verb=list,watch', '--resource=nodes,namespaces,runtimeclasses.node.k8s.io'])
  await cp.kubectl(['create', 'clusterrolebinding', sa, `--clusterrole=${sa}`, `--serviceaccount=${ns}:${sa}`])
  await cp.kubectl(['create', 'serviceaccount', sa, '-n', ns])
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } }) })
  const newToken = async (): Promise<string> => (await cp.kubectl(['create', 'token', sa, '-n', ns, '--duration=10m'])).stdout.trim()

  const dir = mkdtempSync(join(tmpdir(), 'wa-sa-'))
  const writeToken = (token: string): void => {
    // As the kubelet rotates a projected token: write aside, then swap atomically.
    writeFileSync(join(dir, '.token.new'), token)
    renameSync(join(dir, '.token.new'), join(dir, 'token'))
  }
  writeFileSync(join(dir, 'ca.crt'), cp.caPem)
  writeFileSync(join(dir, 'namespace'), ns)
  const token1 = await newToken()
  writeToken(token1)
  const server = new URL(cp.server)
  // No HOME, no KUBECONFIG: only the in-cluster path is left.
  const env = { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port }
  const { connection, origin } = loadKubeConnection(undefined, env, { serviceAccountDir: dir })
  t.match(origin, /in-cluster service account/)
  t.equal(connection.server, cp.server.replace(/\/+$/, ''), 'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT')

  const get = async (c: KubeConnection, path: string): Promise<{ status: number; token: string; body: any }> => {
    const { headers, dispatcher } = await c.prepare()
    const r = await request(c.server + path, { headers, ...(dispatcher ? { dispatcher } : {}) })
    return { status: r.statusCode, token: (headers.authorization ?? '').replace(/^Bearer /, ''), body: await r.body.json() }
  }

  await t.test('the token and CA from the directory authenticate as the ServiceAccount', async (t) => {
    const r = await get(connection, '/api/v1/nodes')
    t.equal(r.status, 200, 'list nodes')
    t.equal(r.token, token1, 'with the token from the file')
    t.same(r.body.items.map((n: { metadata: { name: string } }) => n.metadata.name), ['node-1'])
    const denied = await get(connection, '/api/v1/namespaces/kube-system/secrets')
    t.equal(denied.status, 403, 'and as nobody more: secrets are forbidden to it')
    t.match(denied.body.message, `system:serviceaccount:${ns}:${sa}`, 'the apiserver names the ServiceAccount')
  })

  const src = new InformerClusterSource({ connection, policy: () => testPolicy(), metrics: new Registry(), staleAfterMs: 500, backoffBaseMs: 100, backoffMaxMs: 1000, watchdogMs: 60_000 })
  t.teardown(() => src.stop())

  await t.test('the informers list and watch through it', async (t) => {
    await src.start()
    t.ok(src.synced(), 'synced')
    t.match(src.readiness().detail, /synced: 1 nodes/)
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' } }) })
    await waitFor(() => /synced: 2 nodes/.test(src.readiness().detail), 'the watch sees node-2')
    t.pass('node-2 arrived by watch')
  })

  await t.test('token rotation: after the old token is revoked, the next request uses the new file', async (t) => {
    // Revoke token1: a new ServiceAccount of the same name has a new UID, which token1 does not carry.
    await cp.kubectl(['delete', 'serviceaccount', sa, '-n', ns])
    await cp.kubectl(['create', 'serviceaccount', sa, '-n', ns])
    // The apiserver caches successful token authentications for a few seconds: poll until token1
    // is refused.
    const revoked = await waitFor(async () => {
      const r = await get(connection, '/api/v1/nodes')
      return r.status === 401 ? r : undefined
    }, 'the apiserver refuses token1', 60_000)
    t.equal(revoked.status, 401, 'token1 is refused now (the file still holds it)')
    t.equal(revoked.token, token1)

    const token2 = await newToken()
    t.not(token2, token1)
    writeToken(token2)
    const r = await get(connection, '/api/v1/nodes')
    t.equal(r.status, 200, 'the very next request succeeds')
    t.equal(r.token, token2, 'with the token re-read from the rotated file')

    // The informers' next list and watch too: restart the apiserver (every watch breaks, the
    // informers list again), then a new Node must arrive.
    await cp.restartApiserver()
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-3' } }) })
    await waitFor(() => /synced: 3 nodes/.test(src.readiness().detail) && src.readiness().ready, 'the informers relist with token2 and see node-3', 60_000)
    t.pass('after the restart the informers relisted and watched with the rotated token')
  })
})
