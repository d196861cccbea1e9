import type { KeyRecord } from './ports.js';
import type { CallerIdentity } from './identity.js';
import { KmsError } from './errors.js';

/** The one authorize step every operation goes through. Key policies and grants plug in here later. */
export interface Authorizer {
  /** Throws AccessDeniedException when `caller` may not perform `action` (e.g. "kms:Encrypt") on `key`. */
  authorize(caller: CallerIdentity, action: string, key?: KeyRecord): void;
}

/** Core rule: principals of the key's own account may use it; every cross-account call is denied. */
export class SameAccountAuthorizer implements Authorizer {
  authorize(caller: CallerIdentity, action: string, key?: KeyRecord): void {
    if (key && key.account !== caller.account) {
      throw new KmsError(
        'AccessDeniedException',
        `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${key.arn} because no resource-based policy allows the ${action} action`,
      );
    }
  }
}
