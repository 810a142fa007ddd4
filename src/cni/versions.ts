import { CniError, ErrorCode } from './errors.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const CURRENT_VERSION = '1.1.0';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

function parts(version: string): [number, number, number] {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) throw new CniError(ErrorCode.DecodingFailure, `invalid version "${version}"`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

export function isSupported(version: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** Throws code 1 unless jailnet speaks the config's version. */
export function requireSupported(version: string | undefined): string {
  const asked = version ?? '';
  if (!isSupported(asked)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      `config is "${asked}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
  return asked;
}

/** What VERSION answers. Like the reference plugins, jailnet does not read stdin for it. */
export function versionInfo(): { cniVersion: string; supportedVersions: readonly string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS };
}

/** The first spec version that defines each command. */
const FIRST_VERSION: Record<CniCommand, string> = {
  ADD: '0.1.0',
  DEL: '0.1.0',
  VERSION: '0.1.0',
  CHECK: '0.4.0',
  GC: '1.1.0',
  STATUS: '1.1.0',
};

export function versionAllows(version: string, command: CniCommand): boolean {
  return compareVersions(version, FIRST_VERSION[command]) >= 0;
}

export function requireCommandAllowed(version: string, command: CniCommand): void {
  if (!versionAllows(version, command)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `config version does not allow ${command}`,
      `${command} needs cniVersion ${FIRST_VERSION[command]} or later, config is "${version}"`,
    );
  }
}

/** Results below 1.0.0 carry ips[].version. */
export function hasIPVersionField(version: string): boolean {
  return compareVersions(version, '1.0.0') < 0;
}
