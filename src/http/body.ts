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
 * Reads and parses a JSON body with a size bound. At the bound it stops reading and throws at once
 * (with the uid found in the first bytes), so the answer does not wait for the rest of a body it
 * will refuse anyway: a large body can take longer to arrive than the request limit, and a stream
 * cut off by that limit is a reset, not a 413. The stream is left paused, not destroyed; the
 * listener decides what happens to the unread rest after answering (see createAdmissionFastify).
 */
export async function readJsonBody(stream: Readable, limit = REVIEW_BODY_LIMIT): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, PREFIX_BYTES))
      throw new BodyTooLargeError(limit, uidFromPrefix(Buffer.concat(chunks).subarray(0, PREFIX_BYTES).toString('utf8')))
    }
    size += chunk.length
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new BodyUnparseableError('body is empty')
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new BodyUnparseableError((e as Error).message)
  }
}
