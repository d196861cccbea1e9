// Grants on two Trent nodes sharing one PostgreSQL database: a grant made on one node is honoured on the other at once
// through its token, and without the token as soon as the change notification arrives; a retired grant stops working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateGrantCommand, CreateKeyCommand, EncryptCommand, type KMSClient, RetireGrantCommand } from '@aws-sdk/client-kms';
import { postgresCluster, postgresSkipReason } from '../helpers/postgres.js';
import { devClient, startServer, type TestServer } from '../helpers/server.js';
import { errorName, within } from '../helpers/poll.js';

const skip = postgresSkipReason();
const env = { TRENT_ROOT_KEY_PASSPHRASE: 'one passphrase for every node' };
const A = '111111111111';
const B = '222222222222';
/** Far inside the stated bound (cacheTtlSeconds, 30 s): the notification path. */
const NOTIFY_BOUND_MS = 2_000;

describe('grants on two nodes sharing PostgreSQL', { skip }, () => {
  let servers: TestServer[] = [];
  let aOnNode1: KMSClient;
  let bOnNode2: KMSClient;
  before(async () => {
    const url = await (await postgresCluster()).createDatabase();
    const first = await startServer({ env, args: ['--store', url, '--request-log', 'off'] });
    servers = [first, await startServer({ env, args: ['--store', url, '--request-log', 'off'] })];
    aOnNode1 = devClient(servers[0]!.url, { accessKeyId: A });
    bOnNode2 = devClient(servers[1]!.url, { accessKeyId: B });
  });
  after(async () => {
    aOnNode1?.destroy();
    bOnNode2?.destroy();
    for (const s of servers) await s.stop();
  });

  it('a grant created on node 1 is honoured on node 2 (token at once, then without), and retiring it is seen too', async () => {
    const arn = (await aOnNode1.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const encrypt = (tokens?: string[]) => bOnNode2.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), GrantTokens: tokens }));
    assert.equal(await errorName(encrypt()), 'AccessDeniedException'); // node 2 now caches "no grants" for the key
    const { GrantToken } = await aOnNode1.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: `arn:aws:iam::${B}:root`, Operations: ['Encrypt'] }));
    const enc = await encrypt([GrantToken!]);
    assert.equal(enc.KeyId, arn);
    await within(NOTIFY_BOUND_MS, 'the grant without its token on node 2', async () => (await errorName(encrypt())) === undefined);
    await aOnNode1.send(new RetireGrantCommand({ GrantToken }));
    await within(NOTIFY_BOUND_MS, 'the retired grant refused on node 2', async () => (await errorName(encrypt())) === 'AccessDeniedException');
    assert.equal(await errorName(encrypt([GrantToken!])), 'AccessDeniedException', 'the token of a retired grant allows nothing');
  });
});
