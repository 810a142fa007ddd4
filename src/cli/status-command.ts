// `jailnet status`: is this host ready for pods? One line per check, with the fix.
import { Command } from 'commander';
import type { CliContext } from './context.js';

export function statusCommand(context: CliContext): Command {
  return new Command('status').description('check that this host is ready for pods (only reads; --dry-run changes nothing)').action(async () => {
    // status only reads, and reads are real with --dry-run too.
    const checks = await (await context.host()).readiness();
    context.print(checks, () => checks.map((c) => (c.ok ? `ok    ${c.name}` : `FAIL  ${c.name} — fix: ${c.fix}`)).join('\n'));
    if (checks.some((c) => !c.ok)) context.exitCode = 1;
  });
}
