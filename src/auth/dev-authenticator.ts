import { accountRootArn } from '../domain/arn.js';
import { KmsError } from '../domain/errors.js';
import { authorizationHeader, type Authenticated, type Authenticator, type SignedRequest } from './authenticator.js';
import type { CallerDirectory } from './caller-directory.js';
import { parseAuthorization, REGION_PATTERN } from './sigv4.js';

/**
 * --dev: any access key is accepted and the signature is not checked. A 12-digit access key id selects that
 * account, any other the default account; the region comes from the credential scope. The Authorization header
 * must still be well formed (same IncompleteSignatureException as outside dev mode). Unsigned requests (no
 * Authorization header, e.g. curl) are accepted as the default account's root in the default region. An access key
 * id that Trent issued (`trent iam`) is its principal, with its identity policies: dev mode skips the signature,
 * not the authorization.
 */
export class DevAuthenticator implements Authenticator {
  constructor(
    private readonly defaultAccount: string,
    private readonly defaultRegion: string,
    private readonly directory?: CallerDirectory<unknown>,
  ) {}

  async authenticate(request: SignedRequest): Promise<Authenticated> {
    const header = authorizationHeader(request);
    if (!header) {
      const account = this.defaultAccount;
      return { identity: { account, principalArn: accountRootArn(account), accessKeyId: 'anonymous' }, region: this.defaultRegion };
    }
    const { accessKeyId, region } = parseAuthorization(header);
    if (!REGION_PATTERN.test(region)) throw new KmsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'.`);
    const known = this.directory && (await this.directory.resolve(accessKeyId));
    if (known) {
      const { record, identityPolicies } = known.resolved;
      return { identity: { account: record.account, principalArn: record.principalArn, accessKeyId, ...(identityPolicies && { identityPolicies }) }, region };
    }
    const account = /^\d{12}$/.test(accessKeyId) ? accessKeyId : this.defaultAccount;
    return { identity: { account, principalArn: accountRootArn(account), accessKeyId }, region };
  }
}
