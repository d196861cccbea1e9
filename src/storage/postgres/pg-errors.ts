// Which node-postgres errors mean "the database is not there or not answering", as opposed to an error of the
// statement itself (a constraint, a serialization failure): the former become StorageUnavailableError.
import { StorageUnavailableError } from '../../domain/ports.js';

type Reason = StorageUnavailableError['reason'];

/** Node socket error codes. */
const SOCKET: Record<string, Reason> = {
  ECONNREFUSED: 'unreachable', ENOTFOUND: 'unreachable', EAI_AGAIN: 'unreachable', EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable', EHOSTDOWN: 'unreachable', ENETDOWN: 'unreachable', ENOENT: 'unreachable', // ENOENT: Unix socket
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'connection-lost', EPIPE: 'connection-lost', ECONNABORTED: 'connection-lost',
};

/** SQLSTATEs (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
const SQLSTATE: Record<string, Reason> = {
  '57P03': 'unreachable', // cannot_connect_now: starting up, shutting down, in recovery
  '53300': 'unreachable', // too_many_connections
  '08001': 'unreachable', // sqlclient_unable_to_establish_sqlconnection
  '08004': 'unreachable', // sqlserver_rejected_establishment_of_sqlconnection
  '57014': 'timeout', // query_canceled: statement_timeout
  '55P03': 'timeout', // lock_not_available: lock_timeout
  '57P01': 'connection-lost', // admin_shutdown (pg_ctl stop -m fast, pg_terminate_backend)
  '57P02': 'connection-lost', // crash_shutdown
  '08000': 'connection-lost', '08003': 'connection-lost', '08006': 'connection-lost', '08007': 'connection-lost',
  '25P03': 'connection-lost', // idle_in_transaction_session_timeout
};

/** node-postgres and pg-pool errors that carry no code, by message. */
const MESSAGES: readonly [RegExp, Reason][] = [
  [/^timeout exceeded when trying to connect/i, 'timeout'], // pg-pool: no connection within connectionTimeoutMillis
  [/^Connection terminated due to connection timeout/i, 'timeout'], // pg: connect timeout
  [/^Query read timeout/i, 'timeout'], // pg: query_timeout
  [/^Connection terminated/i, 'connection-lost'],
  [/is not queryable/i, 'connection-lost'],
  [/^The server does not support SSL connections/i, 'unreachable'],
];

/** The reason the store is unavailable, or undefined when `err` is not a connection failure. */
export function unavailableReason(err: unknown): Reason | undefined {
  if (err instanceof StorageUnavailableError) return err.reason;
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const r = SOCKET[code] ?? SQLSTATE[code];
    if (r) return r;
  }
  const message = (err as { message?: unknown }).message;
  if (typeof message === 'string') for (const [re, r] of MESSAGES) if (re.test(message)) return r;
  // AggregateError (Node's happy-eyeballs connect to several addresses): unavailable if every attempt was.
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0) {
    const reasons = errors.map(unavailableReason);
    if (reasons.every((r) => r !== undefined)) return reasons[0];
  }
  return undefined;
}

/** `err` as a StorageUnavailableError when it is a connection failure; otherwise `err` itself. */
export function translatePgError(err: unknown): unknown {
  if (err instanceof StorageUnavailableError) return err;
  const reason = unavailableReason(err);
  if (!reason) return err;
  const code = (err as { code?: unknown }).code;
  return new StorageUnavailableError(reason, `${typeof code === 'string' ? `${code} ` : ''}${(err as Error).message}`);
}
