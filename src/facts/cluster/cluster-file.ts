/**
 * A ClusterFactsSource read from a YAML file holding Nodes, RuntimeClasses and Namespaces
 * (multi-document, or `kind: List` / `NodeList` / ... as `kubectl get -o yaml` prints them).
 * Used by the `check` and `nodes` CLIs (`--cluster FILE`). Other kinds are ignored (counted).
 */
import { readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import type { ClusterFactsSource } from '../../domain/facts.js'
import type { Readiness } from '../../domain/readiness.js'
import type { Policy } from '../../domain/policy.js'
import { ClusterIndex, type IndexSnapshot } from './cluster-index.js'
import { stringMap, summarizeNode } from './node-summary.js'
import { summarizeRuntimeClass } from './runtime-class-summary.js'

export interface ClusterFileContents {
  nodes: number
  runtimeClasses: number
  namespaces: number
  /** `Kind/name` of documents that are neither Node, RuntimeClass nor Namespace. */
  ignored: string[]
}

export class ClusterFileError extends Error {
  override name = 'ClusterFileError'
}

type Json = Record<string, unknown>

function isObj(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Flattens Lists into their items. */
function* objectsOf(doc: unknown): Generator<Json> {
  if (!isObj(doc)) return
  const kind = typeof doc.kind === 'string' ? doc.kind : ''
  if (Array.isArray(doc.items) && (kind === 'List' || kind.endsWith('List'))) {
    for (const it of doc.items) yield* objectsOf(it)
    return
  }
  yield doc
}

export class FileClusterSource implements ClusterFactsSource {
  readonly index: ClusterIndex
  readonly contents: ClusterFileContents

  /** `text` is the YAML; `origin` names it in error messages. */
  constructor(text: string, policy: () => Policy, origin = 'cluster file') {
    this.index = new ClusterIndex(policy)
    const contents: ClusterFileContents = { nodes: 0, runtimeClasses: 0, namespaces: 0, ignored: [] }
    const docs = parseAllDocuments(text)
    if (!Array.isArray(docs)) throw new ClusterFileError(`${origin}: empty YAML stream`)
    for (const [i, d] of docs.entries()) {
      if (d.errors.length > 0) throw new ClusterFileError(`${origin}: document ${i + 1}: ${d.errors[0]!.message}`)
      for (const o of objectsOf(d.toJS())) {
        const meta = isObj(o.metadata) ? o.metadata : {}
        const name = typeof meta.name === 'string' ? meta.name : ''
        const kind = typeof o.kind === 'string' ? o.kind : ''
        if (!name && (kind === 'Node' || kind === 'RuntimeClass' || kind === 'Namespace')) {
          throw new ClusterFileError(`${origin}: document ${i + 1}: ${kind} without metadata.name`)
        }
        switch (kind) {
          case 'Node':
            this.index.upsertNode(summarizeNode(o))
            contents.nodes++
            break
          case 'RuntimeClass':
            if (typeof o.handler !== 'string' || o.handler === '') {
              throw new ClusterFileError(`${origin}: RuntimeClass ${name} has no handler`)
            }
            this.index.upsertRuntimeClass(summarizeRuntimeClass(o))
            contents.runtimeClasses++
            break
          case 'Namespace':
            this.index.upsertNamespace(name, stringMap(meta.labels))
            contents.namespaces++
            break
          default:
            contents.ignored.push(`${kind || '(no kind)'}/${name || '(no name)'}`)
        }
      }
    }
    this.index.setKnown(true)
    this.contents = contents
  }

  static async fromFile(path: string, policy: () => Policy): Promise<FileClusterSource> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (e) {
      throw new ClusterFileError(`cannot read cluster file ${path}: ${(e as Error).message}`)
    }
    return new FileClusterSource(text, policy, path)
  }

  snapshot(): IndexSnapshot {
    return this.index.snapshot()
  }

  readiness(): Readiness {
    const c = this.contents
    return { ready: true, detail: `cluster file: ${c.nodes} nodes, ${c.runtimeClasses} runtimeclasses, ${c.namespaces} namespaces` }
  }
}
