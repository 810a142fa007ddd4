// `jailnet repair [--dry-run] [POD]`: puts back what jailnet's records say the host must
// hold (after a pf reload, `nft flush table`, a suspend) and prints what it fixed; and
// the drift lines of `jailnet status`. Nothing that is not jailnet's is touched.
import path from 'node:path';
import { Command } from 'commander';
import type { ReadinessCheck } from '../hosts/host.js';
import { validatePodName } from '../names.js';
import { PodStore } from '../pods/store.js';
import { driftSubject, HOST_WIDE, type Drift } from '../repair/audit.js';
import { oneLine } from '../util/teardown.js';
import { applyRepairs, findDrift, type RepairScope } from '../repair/repair.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { aardvarkBinaries } from '../platform.js';
import type { CliContext } from './context.js';

export async function repairScope(context: CliContext): Promise<RepairScope> {
  const { runtime } = await context.config();
  const dns = { dir: cniAardvarkDir(process.env), door: await context.door(), binaries: aardvarkBinaries(process.env) };
  return { host: await context.host(), store: new PodStore(runtime.stateDir, context.plan), attachmentsDir: path.join(runtime.stateDir, 'attachments'), progress: context.progress, dns };
}

/** Each drift as a failed check of `jailnet status`, or one passed check when there is none. */
export async function driftChecks(context: CliContext): Promise<ReadinessCheck[]> {
  const name = "pods' networks match jailnet's records";
  let drift: Drift[];
  try {
    drift = await findDrift(await repairScope(context));
  } catch (error) {
    return [{ name, ok: false, fix: `the host could not be read (${oneLine(error)}): see the checks above` }];
  }
  if (drift.length === 0) return [{ name, ok: true }];
  return drift.map((d) => ({
    name: `${driftSubject(d)}: ${d.what}`,
    ok: false,
    fix: d.repair ? `jailnet repair${d.pod === HOST_WIDE ? '' : ` ${d.pod}`}` : 're-create the pod',
  }));
}

export function repairCommand(context: CliContext): Command {
  return new Command('repair')
    .description("put back what jailnet's records say the host must hold (rules, table entries, links up); --dry-run prints the commands")
    .argument('[pod]', 'only this pod (and what all pods share)')
    .action(async (pod: string | undefined) => {
      if (pod !== undefined) validatePodName(pod);
      const scope = await repairScope(context);
      const outcome = await applyRepairs(scope, await findDrift(scope, pod));
      if (context.printPlanIfDry()) return;
      const lines = [...outcome.fixed.map((f) => `fixed ${f}`), ...outcome.unfixable.map((u) => `cannot fix ${u}`)];
      context.print(outcome, () => (lines.length === 0 && outcome.errors.length === 0 ? 'nothing to repair' : lines.join('\n')));
      context.report(outcome.errors);
      if (outcome.unfixable.length > 0) context.exitCode = 1;
    });
}
