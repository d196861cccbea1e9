import { accountRootArn } from '../domain/arn.js';
import { KmsError } from '../domain/errors.js';
import type { Authenticated, Authenticator, SignedRequest } from './authenticator.js';

const CREDENTIAL = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/[^/,\s]+\/aws4_request/;

/**
 * --dev: any access key is accepted without checking the signature. A 12-digit access key id selects that
 * account, any other the default account; the region comes from the credential scope.
 */
export class DevAuthenticator implements Authenticator {
  constructor(
    private readonly defaultAccount: string,
    private readonly defaultRegion: string,
  ) {}

  async authenticate(request: SignedRequest): Promise<Authenticated> {
    const header = String(request.headers.authorization ?? '');
    const m = CREDENTIAL.exec(header);
    if (!header) {
      const account = this.defaultAccount;
      return { identity: { account, principalArn: accountRootArn(account), accessKeyId: 'anonymous' }, region: this.defaultRegion };
    }
    if (!m) throw new KmsError('IncompleteSignatureException', `Authorization header requires 'Credential' parameter. Authorization=${header.split(' ')[0]}`);
    const accessKeyId = m[1]!;
    const account = /^\d{12}$/.test(accessKeyId) ? accessKeyId : this.defaultAccount;
    return { identity: { account, principalArn: accountRootArn(account), accessKeyId }, region: m[2]! };
  }
}
