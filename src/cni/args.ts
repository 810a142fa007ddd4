// CNI_ARGS: "K1=V1;K2=V2". Keys a plugin does not know are an error unless
// IgnoreUnknown is true, which podman and buildah always send.
import { CniError, ErrorCode } from './errors.js';

export type CniArgs = ReadonlyArray<readonly [string, string]>;

export function parseCniArgs(text: string | undefined): CniArgs {
  if (!text) return [];
  return text.split(';').map((pair) => {
    const parts = pair.split('=');
    if (parts.length !== 2 || parts[0] === '') {
      throw new CniError(ErrorCode.InvalidEnvironment, 'invalid CNI_ARGS', `ARGS: invalid pair "${pair}"`);
    }
    return [parts[0] as string, parts[1] as string] as const;
  });
}

export function formatCniArgs(args: CniArgs): string {
  return args.map(([key, value]) => `${key}=${value}`).join(';');
}

function isTrue(value: string): boolean {
  return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

/** The values of the known keys; other keys fail unless IgnoreUnknown is set. */
export function pickCniArgs<K extends string>(args: CniArgs, known: readonly K[]): Partial<Record<K, string>> {
  const ignoreUnknown = args.some(([key, value]) => key === 'IgnoreUnknown' && isTrue(value));
  const picked: Partial<Record<K, string>> = {};
  const unknown: string[] = [];
  for (const [key, value] of args) {
    if (key === 'IgnoreUnknown') continue;
    if ((known as readonly string[]).includes(key)) picked[key as K] = value;
    else unknown.push(key);
  }
  if (unknown.length > 0 && !ignoreUnknown) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      'unknown CNI_ARGS keys',
      `ARGS: unknown args ${JSON.stringify(unknown)} (set IgnoreUnknown=1 to ignore them)`,
    );
  }
  return picked;
}
