// The audit trail's pure parts: the hash chain and its checker, canonical JSON, and the model-driven view that keeps
// plaintext, ciphertext, key material and secrets out of every event.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auditedView, buildEvent, isReadOnly, userIdentity, type AuditCapture } from '../../src/audit/cloudtrail.js';
import { uuidV7 } from '../../src/domain/audit-event.js';
import { canonicalJson, chainHash, ChainChecker, GENESIS_HASH, type ChainLink } from '../../src/domain/audit-chain.js';
import { SecretBytes } from '../../src/crypto/secret-bytes.js';
import { OPERATIONS, SHAPES } from '../../src/model/kms-model.generated.js';

function chain(n: number): ChainLink[] {
  const links: ChainLink[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const json = canonicalJson({ eventID: `e${seq}`, eventName: 'Encrypt' });
    const hash = chainHash(prev, seq, json);
    links.push({ seq, prevHash: prev, hash, json });
    prev = hash;
  }
  return links;
}

function firstBreak(links: readonly ChainLink[], head?: { seq: number; hash: string }) {
  const c = new ChainChecker();
  for (const l of links) {
    const b = c.check(l);
    if (b) return b;
  }
  return head ? c.checkHead(head) : undefined;
}

describe('audit hash chain', () => {
  const links = chain(5);
  const head = { seq: 5, hash: links[4]!.hash };

  it('verifies an intact chain and its head', () => {
    assert.equal(firstBreak(links, head), undefined);
    assert.equal(chainHash(GENESIS_HASH, 1, '{}'), chainHash(GENESIS_HASH, 1, '{}'));
    assert.notEqual(chainHash(GENESIS_HASH, 1, '{}'), chainHash(GENESIS_HASH, 2, '{}'), 'the position is covered');
  });

  it('finds a modified event', () => {
    const edited = links.map((l) => (l.seq === 3 ? { ...l, json: l.json.replace('Encrypt', 'Decrypt') } : l));
    assert.deepEqual(firstBreak(edited, head)?.seq, 3);
    assert.equal(firstBreak(edited, head)?.problem, 'modified');
  });

  it('finds a modified event whose hash was recomputed (the next link no longer follows)', () => {
    const json = links[2]!.json.replace('Encrypt', 'Decrypt');
    const edited = links.map((l) => (l.seq === 3 ? { ...l, json, hash: chainHash(l.prevHash, 3, json) } : l));
    assert.deepEqual([firstBreak(edited, head)?.seq, firstBreak(edited, head)?.problem], [4, 'missing']);
  });

  it('finds a deleted event, in the middle, at the start and at the end', () => {
    assert.deepEqual([firstBreak(links.filter((l) => l.seq !== 3), head)?.seq, firstBreak(links.filter((l) => l.seq !== 3))?.problem], [3, 'missing']);
    assert.equal(firstBreak(links.slice(1), head)?.seq, 1);
    assert.deepEqual([firstBreak(links.slice(0, 4), head)?.seq, firstBreak(links.slice(0, 4), head)?.problem], [5, 'missing']);
  });

  it('finds events renumbered to hide a deletion, and reordered events', () => {
    const renumbered = [links[0]!, links[1]!, { ...links[3]!, seq: 3 }, { ...links[4]!, seq: 4 }];
    assert.equal(firstBreak(renumbered)?.seq, 3);
    const swapped = [links[0]!, links[2]!, links[1]!];
    assert.equal(firstBreak(swapped)?.seq, 2);
    const swappedContent = [links[0]!, { ...links[1]!, json: links[2]!.json }, { ...links[2]!, json: links[1]!.json }];
    assert.equal(firstBreak(swappedContent)?.problem, 'modified');
  });

  it('serializes canonically: sorted keys at every depth, undefined members dropped', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: undefined }], c: null } }), '{"a":{"c":null,"d":[1,{"f":2}]},"b":1}');
    assert.equal(canonicalJson({ ü: 'é', a: '"' }), '{"a":"\\"","ü":"é"}');
    assert.equal(canonicalJson({ b: 1, 10: 2, 9: 3 }), '{"9":3,"10":2,"b":1}', 'integer-like keys first, as JavaScript orders them');
  });
});

/** A value for every member of a shape, blobs and sensitive strings marked, to see what an event keeps. */
const BLOB = Buffer.from('BLOB-MARKER-bytes-that-must-not-appear');
const SECRET = 'SENSITIVE-MARKER-value';
function sample(shapeName: string, depth = 0): unknown {
  const s = SHAPES[shapeName]!;
  if (depth > 6) return undefined;
  switch (s.type) {
    case 'structure':
      return Object.fromEntries(Object.entries(s.members ?? {}).map(([m, sh]) => [m, sample(sh, depth + 1)]));
    case 'list':
      return [sample(s.member!, depth + 1)];
    case 'map':
      return { k: sample(s.value!, depth + 1) };
    case 'blob':
      return s.sensitive ? new SecretBytes(BLOB) : Buffer.from(BLOB);
    case 'string':
      return s.sensitive ? SECRET : s.enum ? s.enum[0] : 'text';
    case 'integer':
    case 'long':
      return 7;
    case 'boolean':
      return true;
    case 'timestamp':
      return new Date(0);
  }
}

describe('audited view of requests and responses', () => {
  it('keeps an encryption context key named "__proto__" in requestParameters', () => {
    const view = auditedView('EncryptRequest', { KeyId: 'k', EncryptionContext: JSON.parse('{"__proto__":"tenant-A","b":"2"}') }) as { encryptionContext: object };
    assert.deepEqual(Object.entries(view.encryptionContext), [['__proto__', 'tenant-A'], ['b', '2']]);
  });

  it('drops every blob and every sensitive member of every operation input and output, and camel-cases names', () => {
    const leaks = [BLOB.toString('base64'), BLOB.toString('hex'), BLOB.toString('utf8'), SECRET, 'BLOB-MARKER', 'GrantToken', 'grantToken'];
    for (const [name, def] of Object.entries(OPERATIONS)) {
      for (const shape of [def.input, def.output]) {
        if (!shape) continue;
        const text = JSON.stringify(auditedView(shape, sample(shape)));
        for (const leak of leaks) assert.ok(!text.includes(leak), `${name} ${shape} leaks ${leak}: ${text}`);
      }
    }
  });

  it('keeps what CloudTrail records: key id, encryption context, algorithms, tags', () => {
    const view = auditedView('EncryptRequest', {
      KeyId: 'alias/app', Plaintext: new SecretBytes(Buffer.from('hello')), EncryptionContext: { Department: 'Engineering' }, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    });
    assert.deepEqual(view, { keyId: 'alias/app', encryptionContext: { Department: 'Engineering' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    assert.deepEqual(auditedView('TagResourceRequest', { KeyId: 'k', Tags: [{ TagKey: 'a', TagValue: 'b' }] }), { keyId: 'k', tags: [{ tagKey: 'a', tagValue: 'b' }] });
    assert.deepEqual(auditedView('GenerateDataKeyResponse', { CiphertextBlob: Buffer.from('c'), Plaintext: new SecretBytes(Buffer.from('p')), KeyId: 'arn' }), { keyId: 'arn' });
  });

  it('classifies read-only operations as CloudTrail does', () => {
    for (const op of ['Encrypt', 'Decrypt', 'GenerateDataKey', 'ReEncrypt', 'Sign', 'Verify', 'GenerateMac', 'GenerateRandom', 'DescribeKey', 'ListKeys', 'GetKeyPolicy', 'GetKeyLastUsage']) {
      assert.equal(isReadOnly(op), true, op);
    }
    for (const op of ['CreateKey', 'ScheduleKeyDeletion', 'PutKeyPolicy', 'TagResource', 'CreateAlias', 'ImportKeyMaterial', 'RotateKeyOnDemand', 'CreateGrant']) {
      assert.equal(isReadOnly(op), false, op);
    }
  });

  it('names the caller as CloudTrail does', () => {
    assert.deepEqual(userIdentity({ account: '111122223333', principalArn: 'arn:aws:iam::111122223333:root', accessKeyId: 'AKIA1' }, ''), {
      type: 'Root', principalId: '111122223333', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333', accessKeyId: 'AKIA1',
    });
    assert.equal(userIdentity({ account: '111122223333', principalArn: 'arn:aws:iam::111122223333:user/Alice', accessKeyId: 'AKIA1' }, '').userName, 'Alice');
    const role = userIdentity({ account: '111122223333', principalArn: 'arn:aws:sts::111122223333:assumed-role/Admin/sess', accessKeyId: 'ASIA1' }, '');
    assert.equal(role.type, 'AssumedRole');
    assert.equal(role.sessionContext?.sessionIssuer.arn, 'arn:aws:iam::111122223333:role/Admin');
    assert.deepEqual(userIdentity(undefined, 'AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x'), {
      type: 'Unknown', accessKeyId: 'AKIAUNKNOWN',
    });
  });

  it('serializes every event canonically as it builds it (one JSON.stringify, no re-sorting)', () => {
    for (const [operation, def] of Object.entries(OPERATIONS)) {
      const capture: AuditCapture = {
        requestId: 'r', time: 0, sourceIp: '::1', userAgent: 'ua', authorization: '', operation,
        request: { caller: { account: '111122223333', principalArn: 'arn:aws:sts::111122223333:assumed-role/R/s', accessKeyId: 'A' }, region: 'us-east-1', resourceArn: 'arn:aws:kms:us-east-1:111122223333:key/k' },
        input: def.input ? sample(def.input) : undefined, output: def.output ? sample(def.output) : undefined,
      };
      const e = buildEvent(capture, 'id', 'us-east-1');
      assert.equal(e.json, canonicalJson(JSON.parse(e.json)), operation);
    }
  });

  it('makes event ids as time-ordered UUIDs (version 7)', () => {
    const a = uuidV7(Date.UTC(2026, 0, 1), Buffer.alloc(10, 0xff));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a.slice(0, 13).replace('-', ''), Date.UTC(2026, 0, 1).toString(16).padStart(12, '0'));
    assert.ok(uuidV7(Date.UTC(2026, 0, 1) + 1, Buffer.alloc(10)) > a, 'later ids sort after earlier ones');
  });

  it('builds a failed request event with its error and no response elements', () => {
    const capture: AuditCapture = {
      requestId: 'r1', time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), sourceIp: '192.0.2.1', userAgent: 'ua', authorization: '', operation: 'ScheduleKeyDeletion',
      request: { caller: { account: '111122223333', principalArn: 'arn:aws:iam::111122223333:root', accessKeyId: 'AKIA' }, region: 'eu-west-3' },
      input: { KeyId: 'k', PendingWindowInDays: 7 }, output: { KeyId: 'k' }, errorCode: 'NotFoundException', errorMessage: 'no such key',
    };
    const e = buildEvent(capture, 'event-1', 'us-east-1');
    const json = JSON.parse(e.json);
    assert.equal(json.eventTime, '2026-01-02T03:04:05Z');
    assert.equal(json.awsRegion, 'eu-west-3');
    assert.deepEqual(json.requestParameters, { keyId: 'k', pendingWindowInDays: 7 });
    assert.equal(json.responseElements, null);
    assert.deepEqual([json.errorCode, json.errorMessage, json.readOnly, json.eventSource, json.eventType], ['NotFoundException', 'no such key', false, 'kms.amazonaws.com', 'AwsApiCall']);
    assert.equal(e.usage, undefined);
    assert.equal(e.json, canonicalJson(json), 'stored canonically');
  });
});
