// `jailnet gc`: remove what belongs to pods that no longer exist, and say what.
import { Command } from 'commander';
import { collectGarbage } from '../pods/gc.js';
import type { CliContext } from './context.js';

export function gcCommand(context: CliContext): Command {
  return new Command('gc').description('remove what belongs to pods that no longer exist').action(async () => {
    const { runtime } = await context.config();
    const removed = await collectGarbage(await context.pods(), runtime.cniConfigDir);
    context.print({ removed }, () => (removed.length === 0 ? 'nothing to remove' : removed.map((r) => `removed ${r}`).join('\n')));
  });
}
