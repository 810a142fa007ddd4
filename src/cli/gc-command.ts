// `jailnet gc`: remove what belongs to pods that no longer exist, and say what.
import { Command } from 'commander';
import { collectGarbage } from '../pods/gc.js';
import type { CliContext } from './context.js';
import { formatPlan } from './plan.js';

export function gcCommand(context: CliContext): Command {
  return new Command('gc').description('remove what belongs to pods that no longer exist').action(async () => {
    const { runtime } = await context.config();
    const removed = await collectGarbage(await context.pods(), runtime.cniConfigDir);
    if (context.dryRun()) {
      // Queries ran nothing in plan mode either, so the plan shows what gc looks at.
      const plan = (await context.door()).plan;
      context.print({ plan }, () => formatPlan(plan));
      return;
    }
    context.print({ removed }, () => (removed.length === 0 ? 'nothing to remove' : removed.map((r) => `removed ${r}`).join('\n')));
  });
}
