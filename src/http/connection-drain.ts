/**
 * Graceful drain of the admission listener's kept-alive connections at shutdown.
 *
 * The kube-apiserver calls a Service webhook over HTTP/1.1 (k8s.io/apiserver v0.36.3
 * pkg/util/webhook/client.go sets NextProtos ["http/1.1"]) and resolves the Service to an endpoint
 * only when it dials (the same file's Dial hook). Its idle connections sit in one pool per Service
 * host, most recently used first (Go's net/http Transport). So a replica removed from the endpoints
 * keeps receiving reviews on the connections it already has, until those connections close; and a
 * connection the server closes while the client is writing a review on it fails that review
 * ("connection reset by peer" or EOF), because net/http does not retry a POST whose bytes went out.
 *
 * The one race-free way to close an HTTP/1.1 connection is an answer carrying `Connection: close`:
 * the client reads it and does not reuse the connection. So, once draining:
 * - every HTTP/1.1 answer carries `Connection: close` (node then ends the socket after it);
 * - an HTTP/1.1 connection left idle is closed only after it has been idle for `idleCloseMs`: a
 *   busy client reuses its most recently used connections first and gets them closed by an answer,
 *   so one that has sat idle that long is at the bottom of its pool, not the one being written to;
 * - every HTTP/2 session gets a GOAWAY (session.close()): streams it already carries finish, and the
 *   client retries the ones the GOAWAY says were not processed on a new connection; a session
 *   opened during the drain gets its GOAWAY after its first stream (one answer per connection).
 * The listener keeps accepting during the drain (a client whose endpoint list is late still gets
 * answers, each closing its connection); the drain ends when no connection is left or at its deadline.
 */
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'

/** How long an HTTP/1.1 connection must have been idle before the drain closes it. */
export const DRAIN_IDLE_CLOSE_MS = 2_000

interface Http1State {
  /** Answers in progress on the connection (0 or 1: HTTP/1.1 has no pipelined answers in node). */
  active: Set<ServerResponse>
  /** When the last answer on it finished (or when it connected). */
  idleSince: number
}

export interface DrainResult {
  /** Idle HTTP/1.1 connections still open at the deadline, closed then. */
  forced: number
}

export interface ConnectionDrain {
  /** Open connections: HTTP/1.1 sockets and HTTP/2 sessions. */
  open(): number
  /**
   * Starts draining; resolves when every connection has closed, or at the deadline (idle HTTP/1.1
   * connections are closed then; ones with an answer in progress close after it).
   */
  drain(deadlineMs: number): Promise<DrainResult>
}

/**
 * Tracks the connections of `server` from now on (call before it listens). `now` is a monotonic
 * clock in ms; `idleCloseMs` defaults to DRAIN_IDLE_CLOSE_MS.
 */
export function trackConnections(server: Http2SecureServer, opts: { now: () => number; idleCloseMs?: number }): ConnectionDrain {
  const idleCloseMs = opts.idleCloseMs ?? DRAIN_IDLE_CLOSE_MS
  const http1 = new Map<TLSSocket, Http1State>()
  const sessions = new Set<ServerHttp2Session>()
  let draining = false
  let changed: () => void = () => {}

  const closeWhenAnswered = (res: ServerResponse): void => {
    if (!res.headersSent) res.setHeader('connection', 'close')
  }

  server.on('secureConnection', (socket: TLSSocket) => {
    // node serves HTTP/1.1 on a connection whose ALPN is not h2 (lib/internal/http2/core.js).
    if (socket.alpnProtocol === 'h2') return
    http1.set(socket, { active: new Set(), idleSince: opts.now() })
    socket.once('close', () => {
      http1.delete(socket)
      changed()
    })
  })
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => {
      sessions.delete(session)
      changed()
    })
    if (draining) closeAfterFirstStream(session)
  })
  server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return
    const state = http1.get(req.socket as TLSSocket)
    if (!state) return
    const r = res as ServerResponse
    state.active.add(r)
    if (draining) closeWhenAnswered(r)
    r.once('close', () => {
      state.active.delete(r)
      state.idleSince = opts.now()
      changed()
    })
  })

  // A session opened during the drain (its client's endpoint list is late, or a port shared with
  // SO_REUSEPORT sent it here) answers one stream, like an HTTP/1.1 answer with `Connection: close`:
  // the GOAWAY names that stream as the last one processed, so the client retries the others
  // elsewhere. A GOAWAY sent at once would refuse its first stream too, and a client whose retry
  // lands here again would make no progress. A session that sends nothing is closed when idle.
  const closeAfterFirstStream = (session: ServerHttp2Session): void => {
    const timer = setTimeout(() => session.close(), idleCloseMs)
    timer.unref()
    session.once('stream', () => {
      clearTimeout(timer)
      session.close()
    })
    session.once('close', () => clearTimeout(timer))
  }

  const open = (): number => http1.size + sessions.size

  const drain = async (deadlineMs: number): Promise<DrainResult> => {
    draining = true
    const end = opts.now() + deadlineMs
    for (const state of http1.values()) for (const res of state.active) closeWhenAnswered(res)
    for (const session of sessions) session.close()
    while (open() > 0) {
      const now = opts.now()
      if (now >= end) break
      // Close the HTTP/1.1 connections idle for long enough; wake up when the next one will be, or
      // when a connection closes or an answer finishes.
      let nextIdle = end
      for (const [socket, state] of http1) {
        if (state.active.size > 0) continue
        const due = state.idleSince + idleCloseMs
        if (due <= now) socket.destroy()
        else nextIdle = Math.min(nextIdle, due)
      }
      if (open() === 0) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(nextIdle, end) - now))
        changed = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      changed = () => {}
    }
    // Deadline: idle HTTP/1.1 connections are closed now; connections with an answer in progress
    // close after it (it carries `Connection: close`, HTTP/2 sessions have their GOAWAY).
    let forced = 0
    for (const [socket, state] of http1) {
      if (state.active.size > 0) continue
      socket.destroy()
      forced++
    }
    return { forced }
  }

  return { open, drain }
}
