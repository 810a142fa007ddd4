// `jailnet host …`: what the host driver sees, for admins checking a machine (and
// for tests against the simulator).
import { Command } from 'commander';
import type { InterfaceInfo } from '../hosts/host.js';
import type { CliContext } from './context.js';

export function hostCommand(context: CliContext): Command {
  const host = new Command('host').description('inspect the host through the selected driver');

  host
    .command('interfaces')
    .description('list interfaces with their addresses')
    .option('--vnet <jail>', 'look inside this vnet jail')
    .action(async (options: { vnet?: string }) => {
      const driver = await context.host();
      const names = await driver.listInterfaces(options.vnet);
      const infos: InterfaceInfo[] = [];
      for (const name of names) {
        const info = await driver.inspectInterface(name, options.vnet);
        if (info) infos.push(info);
      }
      context.print(infos, () =>
        infos
          .map((i) => {
            const addresses = [...i.inet, ...i.inet6].map((a) => `${a.address}/${a.prefixLength}`).join(' ');
            return `${i.name.padEnd(15)} ${(i.up ? 'up' : 'down').padEnd(4)} mtu ${String(i.mtu).padEnd(5)} ${addresses}`.trimEnd();
          })
          .join('\n'),
      );
    });

  host
    .command('jails')
    .description('list jails, dying ones included')
    .action(async () => {
      const jails = await (await context.host()).listJails({ dying: true });
      context.print(jails, () =>
        jails.map((j) => `${String(j.jid).padStart(6)}  ${j.name.padEnd(24)} ${j.vnet.padEnd(7)} ${j.dying ? 'dying' : 'alive'}`).join('\n'),
      );
    });

  return host;
}
