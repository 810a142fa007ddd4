// What a command changes, in order: host commands, CNI plugin calls and file writes.
// Every writer (the exec door, the record stores, the result cache, the plugin invoker)
// puts its change here; with --dry-run it stops there and does not make it. So the plan
// --dry-run prints and the journal of a real run (--journal) are one record, made the
// same way. Reads happen for real in both, since they change nothing and the plan
// depends on what is there.
export type PlanStep =
  | { kind: 'host'; argv: string[] }
  | { kind: 'cni'; command: string; plugin: string; network: string; netns: string; ifname: string }
  | { kind: 'file'; op: 'write' | 'remove'; path: string };

export class ChangePlan {
  readonly steps: PlanStep[] = [];

  /** planning: changes are recorded, not made (--dry-run); otherwise recorded and made. */
  constructor(readonly planning = false) {}

  host(argv: string[]): void {
    this.steps.push({ kind: 'host', argv });
  }

  cni(step: Omit<Extract<PlanStep, { kind: 'cni' }>, 'kind'>): void {
    this.steps.push({ kind: 'cni', ...step });
  }

  file(op: 'write' | 'remove', path: string): void {
    this.steps.push({ kind: 'file', op, path });
  }
}

/** A changer that records its change, and makes it outside plan mode. */
export async function unlessPlanning(plan: ChangePlan | undefined, op: 'write' | 'remove', path: string, change: () => Promise<void>): Promise<void> {
  plan?.file(op, path);
  if (plan?.planning) return;
  await change();
}

// Host commands are quoted so that they could be pasted into sh(1) on the FreeBSD host;
// file changes and plugin calls are shown as comments and plain lines.
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function formatStep(step: PlanStep): string {
  switch (step.kind) {
    case 'host':
      return step.argv.map(shellQuote).join(' ');
    case 'cni':
      return `cni ${step.command} ${step.plugin} network=${step.network} netns=${step.netns} ifname=${step.ifname}`;
    case 'file':
      return `# ${step.op} ${step.path}`;
  }
}

export function formatPlan(steps: PlanStep[]): string {
  return steps.map(formatStep).join('\n');
}
