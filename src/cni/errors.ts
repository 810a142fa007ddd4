// CNI error codes (SPEC.md "Error"), plus jailnet's own codes from 100 up.

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  // jailnet-specific
  PluginNotFound: 100,
  PluginFailed: 101,
  AddressesExhausted: 110,
  AddressUnavailable: 111,
  DuplicateAllocation: 112,
  LeaseNotFound: 113,
  HostNotReady: 120,
  InterfaceExists: 121,
  HostInterfaceTaken: 122,
  PortInUse: 123,
  CheckFailed: 124,
  HostCommandFailed: 125,
  Internal: 199,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface CniErrorJson {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion?: string): CniErrorJson {
    return {
      ...(cniVersion ? { cniVersion } : {}),
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  /** "msg: details", the form podman shows to its users. */
  describe(): string {
    return this.details ? `${this.message}: ${this.details}` : this.message;
  }
}

export function asCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // A host tool that failed (the exec door's HostCommandError) is not an internal error.
  if (error instanceof Error && error.name === 'HostCommandError') return new CniError(ErrorCode.HostCommandFailed, message);
  return new CniError(ErrorCode.Internal, message);
}
