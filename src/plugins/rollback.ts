// Steps with undo actions: when a later step fails, what was done is undone in reverse,
// and the original error is what the caller sees.
import { asCniError, CniError } from '../cni/errors.js';
import { whileUndoing } from '../util/deadline.js';

export class Rollback {
  private readonly undos: Array<{ what: string; undo: () => Promise<unknown> }> = [];

  /** Runs a step and remembers how to undo it. */
  async step<T>(what: string, run: () => Promise<T>, undo?: (value: T) => Promise<unknown>): Promise<T> {
    const value = await run();
    if (undo) this.undos.push({ what, undo: () => undo(value) });
    return value;
  }

  /** Undoes everything, newest first, continuing past failures; returns what could not be undone. */
  async undoAll(): Promise<string[]> {
    const failed: string[] = [];
    // Undo may use the time kept back from the call's deadline.
    await whileUndoing(async () => {
      for (const { what, undo } of this.undos.reverse()) {
        try {
          await undo();
        } catch (error) {
          failed.push(`${what}: ${(error as Error).message}`);
        }
      }
    });
    this.undos.length = 0;
    return failed;
  }

  /** Runs `work`; on failure undoes its steps and rethrows, naming what could not be undone. */
  static async run<T>(work: (rollback: Rollback) => Promise<T>): Promise<T> {
    const rollback = new Rollback();
    try {
      return await work(rollback);
    } catch (error) {
      const failed = await rollback.undoAll();
      if (failed.length === 0) throw error;
      const left = `undoing it failed: ${failed.join('; ')}`;
      const failure = asCniError(error);
      throw new CniError(failure.code, failure.message, [failure.details, left].filter(Boolean).join('; '));
    }
  }
}
