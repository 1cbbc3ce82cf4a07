// The pull-secret readers' cache (cachedReader): plain values, an injected loader and clock.
import t from 'tap'
import { cachedReader } from '../../../src/facts/images/k8s-readers.js'

interface Deferred<T> {
  promise: Promise<T>
  resolve(v: T): void
  reject(e: Error): void
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A loader whose every call waits for the test to settle it. */
function scriptedLoader(): { load: (ns: string, name: string) => Promise<string | undefined>; calls: Array<{ key: string; d: Deferred<string | undefined> }> } {
  const calls: Array<{ key: string; d: Deferred<string | undefined> }> = []
  return {
    calls,
    load: (ns, name) => {
      const d = deferred<string | undefined>()
      calls.push({ key: `${ns}/${name}`, d })
      return d.promise
    },
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

t.test('one read per object within the TTL, shared by concurrent lookups; a new read after it', async (t) => {
  let now = 1_000
  const l = scriptedLoader()
  const r = cachedReader(l.load, { ttlMs: 100, now: () => now })
  const a = r.get('ns', 's')
  const b = r.get('ns', 's')
  t.equal(l.calls.length, 1, 'concurrent lookups share one read')
  l.calls[0]!.d.resolve('v1')
  t.equal(await a, 'v1')
  t.equal(await b, 'v1')
  now += 99
  t.equal(await r.get('ns', 's'), 'v1')
  t.equal(l.calls.length, 1, 'cached within the TTL')
  now += 2 // past the TTL
  const c = r.get('ns', 's')
  t.equal(l.calls.length, 2, 'read again once the TTL passed')
  l.calls[1]!.d.resolve('v2')
  t.equal(await c, 'v2')
})

t.test('not found (undefined) is cached; a failed read is not', async (t) => {
  const l = scriptedLoader()
  const r = cachedReader(l.load, { now: () => 0 })
  const missing = r.get('ns', 'missing')
  l.calls[0]!.d.resolve(undefined)
  t.equal(await missing, undefined)
  t.equal(await r.get('ns', 'missing'), undefined)
  t.equal(l.calls.length, 1, 'not found is cached')
  const failing = r.get('ns', 'failing')
  l.calls[1]!.d.reject(new Error('read secret ns/failing failed'))
  await t.rejects(failing, /failed/)
  await settle()
  const retry = r.get('ns', 'failing')
  t.equal(l.calls.length, 3, 'a failed read is retried on the next lookup')
  l.calls[2]!.d.resolve('ok')
  t.equal(await retry, 'ok')
})

t.test('a late failed read does not delete the newer entry for the same key', async (t) => {
  let now = 1_000
  const l = scriptedLoader()
  const r = cachedReader(l.load, { ttlMs: 100, now: () => now })
  const first = r.get('ns', 's') // read 1: hangs past its TTL
  now += 150
  const second = r.get('ns', 's') // read 2: the entry expired, so a new read
  t.equal(l.calls.length, 2)
  l.calls[1]!.d.resolve('fresh')
  t.equal(await second, 'fresh')
  l.calls[0]!.d.reject(new Error('read secret ns/s failed')) // read 1 fails late
  await t.rejects(first, /failed/)
  await settle()
  const third = r.get('ns', 's')
  t.equal(l.calls.length, 2, 'no third read')
  l.calls[2]?.d.resolve('reloaded') // (the old cache deleted the newer entry and read again)
  t.equal(await third, 'fresh', 'the newer entry is still served')
})

t.test('at maxEntries the least recently used entry goes, not the first one in', async (t) => {
  const l = scriptedLoader()
  const r = cachedReader(l.load, { maxEntries: 2, now: () => 0 })
  const read = async (name: string): Promise<string | undefined> => {
    const before = l.calls.length
    const p = r.get('ns', name)
    if (l.calls.length > before) l.calls[l.calls.length - 1]!.d.resolve(name)
    return p
  }
  await read('a')
  await read('b')
  await read('a') // a is now the most recently used
  t.equal(l.calls.length, 2)
  await read('c') // evicts b
  await read('a')
  t.equal(l.calls.length, 3, 'a stayed cached')
  await read('b')
  t.equal(l.calls.length, 4, 'b was evicted')
})
