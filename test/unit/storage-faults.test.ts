// Connection failures of node-postgres become StorageUnavailableError, and that becomes the AWS exception in one place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageUnavailableError } from '../../src/domain/ports.js';
import { storageFault } from '../../src/protocol/http-handler.js';
import { translatePgError, unavailableReason } from '../../src/storage/postgres/pg-errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('PostgreSQL connection failures', () => {
  it('are classified by socket code, SQLSTATE or node-postgres message', () => {
    assert.equal(unavailableReason(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')), 'unreachable');
    assert.equal(unavailableReason(withCode('the database system is starting up', '57P03')), 'unreachable');
    assert.equal(unavailableReason(withCode('canceling statement due to statement timeout', '57014')), 'timeout');
    assert.equal(unavailableReason(new Error('timeout exceeded when trying to connect')), 'timeout');
    assert.equal(unavailableReason(new Error('Connection terminated due to connection timeout')), 'timeout');
    assert.equal(unavailableReason(new Error('Query read timeout')), 'timeout');
    assert.equal(unavailableReason(withCode('terminating connection due to administrator command', '57P01')), 'connection-lost');
    assert.equal(unavailableReason(new Error('Connection terminated unexpectedly')), 'connection-lost');
    assert.equal(unavailableReason(withCode('read ECONNRESET', 'ECONNRESET')), 'connection-lost');
    const both = Object.assign(new Error(''), { errors: [withCode('a', 'ECONNREFUSED'), withCode('b', 'ECONNREFUSED')] });
    assert.equal(unavailableReason(both), 'unreachable', 'AggregateError of refused connections');
  });

  it('leaves statement errors alone', () => {
    for (const e of [withCode('duplicate key', '23505'), withCode('could not serialize', '40001'), new Error('syntax'), 'text', undefined]) {
      assert.equal(unavailableReason(e), undefined);
      assert.equal(translatePgError(e), e);
    }
  });

  it('become DependencyTimeoutException (unreachable, timeout) or KMSInternalException (connection lost), HTTP 500', () => {
    const refused = translatePgError(withCode('connect ECONNREFUSED', 'ECONNREFUSED'));
    assert.ok(refused instanceof StorageUnavailableError);
    assert.equal(storageFault(refused).type, 'DependencyTimeoutException');
    assert.equal(storageFault(refused).status, 500);
    assert.equal(storageFault(new StorageUnavailableError('timeout', 'x')).type, 'DependencyTimeoutException');
    const lost = storageFault(new StorageUnavailableError('connection-lost', 'x'));
    assert.equal(lost.type, 'KMSInternalException');
    assert.equal(lost.status, 500);
    assert.match(storageFault(refused).message, /You can retry the request/);
  });
});
