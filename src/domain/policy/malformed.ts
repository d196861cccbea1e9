import { KmsError } from '../errors.js';

/** AWS's exception for a document it cannot accept; the wording of each reason is Trent's unless noted. */
export const malformed = (message: string): KmsError => new KmsError('MalformedPolicyDocumentException', message);
