import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalRequest, canonicalUri, formatAmzDate, parseAmzDate, parseAuthorization, sha256Hex, signature,
  signaturesEqual, signingKey, stringToSign,
} from '../../src/auth/sigv4.js';
import { KmsError } from '../../src/domain/errors.js';
import { SUITE, VECTORS, type SuiteVector } from './sigv4-vectors.js';

function sign(v: SuiteVector, overrides: Partial<SuiteVector> = {}) {
  const r = { ...v, ...overrides };
  const [path, query = ''] = r.target.split(/\?(.*)/s) as [string, string?];
  const creq = canonicalRequest({
    method: r.method, path, query, headers: r.headers, signedHeaders: r.signedHeaders.split(';'), payloadHash: sha256Hex(r.body),
  });
  const sts = stringToSign(SUITE.amzDate, SUITE.scope, creq);
  const key = signingKey(Buffer.from(SUITE.secretAccessKey), SUITE.date, SUITE.region, SUITE.service);
  return { creq, sts, sig: signature(key, sts) };
}

describe('SigV4 against the AWS test suite', () => {
  for (const v of VECTORS) {
    it(v.name, () => {
      const { creq, sts, sig } = sign(v);
      assert.equal(creq, v.canonicalRequest, 'canonical request');
      assert.equal(sha256Hex(creq), v.canonicalRequestHash, 'hash of the canonical request (.sts last line)');
      assert.equal(sts, `AWS4-HMAC-SHA256\n${SUITE.amzDate}\n${SUITE.scope}\n${v.canonicalRequestHash}`, 'string to sign');
      assert.equal(sig, v.signature, 'signature');
      // The suite's Authorization header parses back to the same scope, signed headers and signature.
      const parsed = parseAuthorization(
        `AWS4-HMAC-SHA256 Credential=${SUITE.accessKeyId}/${SUITE.scope}, SignedHeaders=${v.signedHeaders}, Signature=${v.signature}`,
      );
      assert.equal(parsed.accessKeyId, SUITE.accessKeyId);
      assert.equal(parsed.scope, SUITE.scope);
      assert.equal(parsed.signedHeaders.join(';'), v.signedHeaders);
      assert.ok(signaturesEqual(sig, parsed.signature));
    });
  }

  it('covers at least the header, query, path-normalization and payload cases', () => {
    assert.ok(VECTORS.length >= 20);
    for (const n of ['get-header-value-trim', 'get-vanilla-query-order-key-case', 'normalize-path/get-slashes', 'post-x-www-form-urlencoded', 'get-utf8']) {
      assert.ok(VECTORS.some((v) => v.name === n), n);
    }
  });
});

describe('SigV4 tampering', () => {
  const vanilla = VECTORS.find((v) => v.name === 'post-x-www-form-urlencoded')!;

  it('changes the signature when the body, a signed header, the method or the query changes', () => {
    assert.notEqual(sign(vanilla, { body: 'Param1=value2' }).sig, vanilla.signature);
    assert.notEqual(sign(vanilla, { headers: [['Content-Type', 'text/plain'], ...vanilla.headers.slice(1)] }).sig, vanilla.signature);
    assert.notEqual(sign(vanilla, { method: 'PUT' }).sig, vanilla.signature);
    assert.notEqual(sign(vanilla, { target: '/?a=b' }).sig, vanilla.signature);
  });

  it('ignores unsigned headers', () => {
    assert.equal(sign(vanilla, { headers: [...vanilla.headers, ['User-Agent', 'x']] }).sig, vanilla.signature);
  });

  it('derives a different key for another date, region, service or secret', () => {
    const base = signingKey(Buffer.from(SUITE.secretAccessKey), SUITE.date, SUITE.region, SUITE.service);
    assert.equal(base.length, 32);
    for (const k of [
      signingKey(Buffer.from(SUITE.secretAccessKey), '20150831', SUITE.region, SUITE.service),
      signingKey(Buffer.from(SUITE.secretAccessKey), SUITE.date, 'us-west-2', SUITE.service),
      signingKey(Buffer.from(SUITE.secretAccessKey), SUITE.date, SUITE.region, 'kms'),
      signingKey(Buffer.from(`${SUITE.secretAccessKey}x`), SUITE.date, SUITE.region, SUITE.service),
    ]) assert.notDeepEqual(k, base);
  });
});

describe('signaturesEqual (crypto.timingSafeEqual)', () => {
  const sig = VECTORS[0]!.signature;
  it('accepts the identical signature only', () => {
    assert.equal(signaturesEqual(sig, sig), true);
    const flipped = `${sig.slice(0, 63)}${sig[63] === '0' ? '1' : '0'}`;
    assert.equal(signaturesEqual(sig, flipped), false);
    assert.equal(signaturesEqual(sig, sig.toUpperCase()), false);
  });
  it('returns false, without throwing, for another length', () => {
    assert.equal(signaturesEqual(sig, sig.slice(0, 10)), false);
    assert.equal(signaturesEqual(sig, ''), false);
    assert.equal(signaturesEqual(sig, `${sig}00`), false);
  });
});

describe('parseAuthorization', () => {
  const incomplete = (message: RegExp | string) => (err: unknown) => {
    assert.ok(err instanceof KmsError);
    assert.equal(err.type, 'IncompleteSignatureException');
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };

  it('names every missing parameter as AWS does', () => {
    assert.throws(
      () => parseAuthorization('AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request'),
      incomplete("Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"),
    );
    assert.throws(
      () => parseAuthorization('Bearer abc.def'),
      incomplete(/^Authorization header requires 'Credential' parameter\. Authorization header requires 'Signature' parameter\./),
    );
  });

  it('refuses a pair without an equal sign, a short credential and other algorithms', () => {
    assert.throws(
      () => parseAuthorization('AWS4-HMAC-SHA256 Credential= AKID /20150830/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00'),
      incomplete(/not a valid key=value pair \(missing equal-sign\) in Authorization header/),
    );
    assert.throws(
      () => parseAuthorization('AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1, SignedHeaders=host, Signature=00'),
      incomplete(/Credential must have exactly 5 slash-delimited elements/),
    );
    assert.throws(() => parseAuthorization('AWS4-ECDSA-P256-SHA256 Credential=a/b/c/d/e'), incomplete(/Unsupported AWS 'algorithm'/));
  });

  it('reads the scope and signed headers', () => {
    const p = parseAuthorization('AWS4-HMAC-SHA256 Credential=123456789012/20240102/eu-west-3/kms/aws4_request,SignedHeaders=host;x-amz-date,Signature=abcd');
    assert.deepEqual(
      { ...p, signedHeaders: [...p.signedHeaders] },
      {
        accessKeyId: '123456789012', date: '20240102', region: 'eu-west-3', service: 'kms', terminator: 'aws4_request',
        signedHeaders: ['host', 'x-amz-date'], signature: 'abcd', scope: '20240102/eu-west-3/kms/aws4_request',
      },
    );
  });
});

describe('dates and paths', () => {
  it('round-trips the ISO 8601 basic format and refuses impossible dates', () => {
    assert.equal(formatAmzDate(parseAmzDate('20150830T123600Z')!), '20150830T123600Z');
    assert.equal(parseAmzDate('2015-08-30T12:36:00Z'), undefined);
    assert.equal(parseAmzDate('20150231T000000Z'), undefined);
  });
  it('encodes an already-encoded path once more (non-S3 rule)', () => {
    assert.equal(canonicalUri('/a%20b'), '/a%2520b');
    assert.equal(canonicalUri(''), '/');
  });
});
