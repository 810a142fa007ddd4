// How a failed command reports itself, in one place for every door that reports one (the
// CLI, and jailnetd answering a runtime API call as the CLI would): the lines for stderr, the
// JSON for --json, and the exit code.
import { CniError } from '../cni/errors.js';
import { ConfigError } from '../config/jailnet-conf.js';
import { oneLine, TeardownError } from './teardown.js';

export interface ErrorReport {
  /** The first says what failed, one more per collected error. */
  lines: string[];
  json: Record<string, unknown>;
  /** 2 for a configuration error (as for usage), 1 for any other. */
  exitCode: number;
}

export function describeError(error: unknown): ErrorReport {
  const exitCode = error instanceof ConfigError ? 2 : 1;
  if (error instanceof TeardownError) {
    const cause = error.failure instanceof CniError ? { code: error.failure.code } : {};
    return { lines: [error.message, ...error.errors], json: { ...cause, msg: error.message, errors: error.errors }, exitCode };
  }
  if (error instanceof CniError) {
    return { lines: [error.describe()], json: { code: error.code, msg: error.message, ...(error.details ? { details: error.details } : {}) }, exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { lines: [message], json: { msg: message }, exitCode };
}

/** The report's lines as stderr gets them: `jailnet: ` and one line each. */
export const stderrLines = (report: ErrorReport): string => report.lines.map((line) => `jailnet: ${oneLine(line)}\n`).join('');
