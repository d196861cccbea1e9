import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Most open connections; Node closes new ones over it at once (server.maxConnections). */
  readonly maxConnections: number;
  /** Most open connections from one remote address; 0: no limit. */
  readonly maxConnectionsPerClient: number;
}

/**
 * The timeouts Node's HTTP server enforces for slow clients (docs/deployment.md#limits), as createServer options:
 * headers not complete within `headersTimeout`, or the whole request (headers and body) not within `requestTimeout`,
 * is answered 408 and the connection closed. Node checks every `connectionsCheckingInterval` (30 s by default): here
 * a quarter of the shorter timeout, between 50 ms and 1 s, so a timeout is enforced within a quarter of itself.
 */
export function timeoutOptions(t: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number }) {
  return {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(Math.min(t.headersTimeoutMs, t.requestTimeoutMs) / 4))),
  };
}

/**
 * Bounds the connections of `server`: all of them (server.maxConnections), and those of each remote address. A
 * connection over either limit is closed before anything is read from it (on TLS, before the handshake).
 */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  if (limits.maxConnectionsPerClient === 0) return;
  const open = new Map<string, number>();
  const closed = (address: string) => {
    const n = open.get(address)! - 1;
    if (n === 0) open.delete(address);
    else open.set(address, n);
  };
  // 'connection' comes before the HTTP (or TLS) layer sees the socket: closing it here is all it takes.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = open.get(address) ?? 0;
    if (n >= limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => closed(address));
  });
}
