// Teardown that goes on past a failure and reports every error, as podman's netavark
// does: each step is attempted, what failed is collected, and the caller gets one error
// that names all of it (one line each), so that nothing is silently left behind.

/** An error's text on one line. */
export function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}

const steps = (n: number) => `${n} step${n === 1 ? '' : 's'}`;

/** Several failures at once; with a cause, the failure that made the undo necessary. */
export class TeardownError extends Error {
  constructor(
    what: string,
    readonly errors: string[],
    readonly failure?: unknown,
  ) {
    super(failure === undefined ? `${what}: ${steps(errors.length)} failed` : `${oneLine(failure)} (undoing ${what}: ${steps(errors.length)} failed)`);
    this.name = 'TeardownError';
  }
}

export class Teardown {
  readonly errors: string[] = [];
  /** The steps that succeeded, in order. */
  readonly done: string[] = [];

  /** Runs one step; a failure is recorded and the teardown goes on. Returns whether it succeeded. */
  async step(what: string, work: () => Promise<unknown>): Promise<boolean> {
    try {
      await work();
      this.done.push(what);
      return true;
    } catch (error) {
      this.errors.push(`${what}: ${oneLine(error)}`);
      return false;
    }
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }

  /** Throws one error naming every failed step, if any failed (after `failure`, when undoing it). */
  finish(what: string, failure?: unknown): void {
    if (this.failed) throw new TeardownError(what, this.errors, failure);
  }
}
