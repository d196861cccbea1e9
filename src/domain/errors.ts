import type { ModelExceptionName } from '../model/kms-model.generated.js';

/** Exceptions of the AWS JSON 1.1 front end that are not in the KMS model (Coral / SigV4 layer). */
export type ProtocolExceptionName =
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'AccessDeniedException'
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException'
  | 'ThrottlingException'
  | 'RequestEntityTooLargeException'
  // KMS answers this (not in the model) to CreateAlias/UpdateAlias/DeleteAlias on the reserved alias/aws/ prefix.
  | 'NotAuthorizedException';

export type ExceptionName = ModelExceptionName | ProtocolExceptionName;

/** HTTP status for each exception; AWS KMS answers 500 for its internal and dependency faults. */
const STATUS: Partial<Record<ExceptionName, number>> = {
  KMSInternalException: 500,
  DependencyTimeoutException: 500,
  MissingAuthenticationTokenException: 403,
  AccessDeniedException: 400,
  RequestEntityTooLargeException: 413,
};

/** A typed AWS exception: the only kind of error an operation throws on purpose. */
export class KmsError extends Error {
  readonly status: number;
  constructor(
    readonly type: ExceptionName,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.status = STATUS[type] ?? 400;
  }
  get serverFault(): boolean {
    return this.status >= 500;
  }
}

export const kmsError = (type: ExceptionName, message: string): KmsError => new KmsError(type, message);

/** The 1-validation-error message shape AWS uses, for rules checked outside the generated model. */
export function validationError(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

/**
 * The most of a client's value that a message (and so an error response and its audit event) repeats. AWS repeats
 * values whole in its validation messages (a 257-character tag value comes back whole); a value beyond the longest
 * identifier the model allows (2,048, KeyIdType and ArnType) is cut, so that a huge input does not come back, or
 * stay in the audit trail, whole (docs/differences.md).
 */
export const MAX_ECHOED_CHARS = 2048;

/** `value` as a message repeats it: whole, or its first MAX_ECHOED_CHARS characters and "...". */
export function echoed(value: string): string {
  return value.length <= MAX_ECHOED_CHARS ? value : `${value.slice(0, MAX_ECHOED_CHARS)}...`;
}

/** The longest error message Trent sends (a bound of last resort: messages echo values through `echoed`). */
export const MAX_MESSAGE_CHARS = 8192;
