// `jailnet gc`: remove what belongs to pods and attachments that no longer exist, and say what.
import { Command } from 'commander';
import { collectGarbage } from '../pods/gc.js';
import type { CliContext } from './context.js';

export function gcCommand(context: CliContext): Command {
  return new Command('gc').description('remove what belongs to pods and attachments that no longer exist').action(async () => {
    const report = await collectGarbage(await context.pods());
    if (context.printPlanIfDry()) return;
    const lines = [...report.removed.map((r) => `removed ${r}`), ...report.skipped.map((s) => `skipped ${s}`)];
    context.print({ removed: report.removed, skipped: report.skipped, errors: report.errors }, () =>
      (report.removed.length === 0 && report.errors.length === 0 ? ['nothing to remove', ...lines] : lines).join('\n'),
    );
    context.report(report.errors);
  });
}
