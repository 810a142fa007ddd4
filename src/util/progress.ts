// A progress line for long work (pod restore, gc, a large load-balancer restore): one line
// on a terminal, rewritten in place and cleared at the end, so the output a script reads is
// the same with and without it. Work reports steps; whether anything is drawn is the CLI's
// choice (a terminal, and not --json).

export interface Progress {
  /** One more unit done; `what` names it (a pod's name). */
  step(what?: string): void;
  /** Clears the line. */
  done(): void;
}

/** Makes the progress of one piece of work: its label and how many steps it has. */
export type ProgressFactory = (label: string, total: number) => Progress;

export const NO_PROGRESS: Progress = { step() {}, done() {} };

export const noProgress: ProgressFactory = () => NO_PROGRESS;

/** Redraws at most this often: a 20,000-rule restore must not spend its time drawing. */
const REDRAW_MS = 100;

/** `label: n/total what`, drawn with a carriage return and erase-line on `write` (stderr). */
export function terminalProgress(write: (text: string) => void, now: () => number = Date.now): ProgressFactory {
  return (label, total) => {
    let done = 0;
    let drawnAt = -Infinity;
    let drawn = false;
    return {
      step(what) {
        done++;
        const t = now();
        if (done < total && t - drawnAt < REDRAW_MS) return;
        drawnAt = t;
        drawn = true;
        write(`\r\x1b[K${label}: ${done}/${total}${what ? ` ${what}` : ''}`);
      },
      done() {
        if (drawn) write('\r\x1b[K');
      },
    };
  };
}
