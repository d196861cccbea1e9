// The XKS Proxy API's errors (aws-kms-xksproxy-api-spec v1.0.x, "Error codes"): each name has one HTTP status, and the
// body is {"errorName", "errorMessage"} with a message under 512 printable ASCII characters.

export type XksErrorName =
  | 'ValidationException'
  | 'InvalidStateException'
  | 'InvalidCiphertextException'
  | 'InvalidKeyUsageException'
  | 'AuthenticationFailedException'
  | 'AccessDeniedException'
  | 'KeyNotFoundException'
  | 'InvalidUriPathException'
  | 'ThrottlingException'
  | 'UnsupportedOperationException'
  | 'DependencyTimeoutException'
  | 'InternalException';

export const XKS_ERROR_STATUS: Readonly<Record<XksErrorName, number>> = {
  ValidationException: 400,
  InvalidStateException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  AccessDeniedException: 403,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  ThrottlingException: 429,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
  InternalException: 500,
};

/** The only kind of error the proxy answers on purpose. */
export class XksError extends Error {
  readonly status: number;
  constructor(
    readonly errorName: XksErrorName,
    message: string,
  ) {
    super(message);
    this.name = errorName;
    this.status = XKS_ERROR_STATUS[errorName];
  }
}

/** The spec: errorMessage "MUST be less than 512 characters in length and only use printable ASCII characters". */
export function errorMessageForWire(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, '?');
  return printable.length < 512 ? printable : `${printable.slice(0, 508)}...`;
}

export function errorBody(err: XksError): { errorName: XksErrorName; errorMessage: string } {
  return { errorName: err.errorName, errorMessage: errorMessageForWire(err.message) };
}
