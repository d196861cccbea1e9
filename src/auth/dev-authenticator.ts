import { accountRootArn } from '../domain/arn.js';
import { KmsError } from '../domain/errors.js';
import type { Authenticated, Authenticator, SignedRequest } from './authenticator.js';
import { parseAuthorization, REGION_PATTERN } from './sigv4.js';

/**
 * --dev: any access key is accepted and the signature is not checked. A 12-digit access key id selects that
 * account, any other the default account; the region comes from the credential scope. The Authorization header
 * must still be well formed (same IncompleteSignatureException as outside dev mode). Unsigned requests (no
 * Authorization header, e.g. curl) are accepted as the default account's root in the default region.
 */
export class DevAuthenticator implements Authenticator {
  constructor(
    private readonly defaultAccount: string,
    private readonly defaultRegion: string,
  ) {}

  async authenticate(request: SignedRequest): Promise<Authenticated> {
    const header = request.headers.authorization;
    if (!header) {
      const account = this.defaultAccount;
      return { identity: { account, principalArn: accountRootArn(account), accessKeyId: 'anonymous' }, region: this.defaultRegion };
    }
    const { accessKeyId, region } = parseAuthorization(header);
    if (!REGION_PATTERN.test(region)) throw new KmsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'.`);
    const account = /^\d{12}$/.test(accessKeyId) ? accessKeyId : this.defaultAccount;
    return { identity: { account, principalArn: accountRootArn(account), accessKeyId }, region };
  }
}
