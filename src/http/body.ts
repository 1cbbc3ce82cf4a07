import type { Readable } from 'node:stream'
import { uidFromPrefix } from '../admission/decode.js'
import { WasmAdmissionError } from '../errors.js'

/** Two objects of up to 3 MiB (etcd's limit) plus the envelope: the same bound controller-runtime uses. */
export const REVIEW_BODY_LIMIT = 7 * 1024 * 1024
const PREFIX_BYTES = 64 * 1024

export class BodyTooLargeError extends WasmAdmissionError {
  constructor(readonly limit: number, readonly uid: string) {
    super('WA_ERR_BODY_TOO_LARGE', [limit])
  }
}

export class BodyUnparseableError extends WasmAdmissionError {
  constructor(detail: string) {
    super('WA_ERR_BODY_UNPARSEABLE', [detail])
  }
}

/**
 * Reads and parses a JSON body with a size bound. Past the bound the rest is drained and dropped;
 * the first bytes are kept so the answer can still carry the request uid.
 */
export async function readJsonBody(stream: Readable, limit = REVIEW_BODY_LIMIT): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  let prefix: string | undefined
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      if (prefix === undefined) prefix = Buffer.concat(chunks).subarray(0, PREFIX_BYTES).toString('utf8')
      chunks.length = 0
      continue
    }
    chunks.push(chunk)
  }
  if (prefix !== undefined || size > limit) throw new BodyTooLargeError(limit, uidFromPrefix(prefix ?? ''))
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new BodyUnparseableError('body is empty')
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new BodyUnparseableError((e as Error).message)
  }
}
