// `jailnet pod create|rm|ls|inspect` and `jailnet container add|rm|exec|ls`.
import { Command } from 'commander';
import { validateContainerName, validatePodName } from '../names.js';
import { addContainer, removeContainer } from '../pods/containers.js';
import { createPod, parsePublish, restorePods } from '../pods/create.js';
import { renderContainerConf, renderJailConf } from '../pods/jail-conf.js';
import { PodError } from '../pods/pods.js';
import { removePod } from '../pods/remove.js';
import type { PodRecord, PortMapping } from '../pods/store.js';
import type { CliContext } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The pod as `pod create` and `pod inspect` print it. */
export function podView(record: PodRecord) {
  const interfaces = record.networks.map((n) => {
    const result = n.result as { interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>; ips?: Array<{ address: string; gateway?: string }> } | undefined;
    const own = result?.interfaces?.find((i) => i.sandbox !== undefined);
    return { network: n.name, ifname: n.ifname, mac: own?.mac, addresses: (result?.ips ?? []).map((ip) => ip.address), gateways: (result?.ips ?? []).map((ip) => ip.gateway).filter(Boolean) };
  });
  return {
    name: record.name,
    jail: record.jail,
    mode: record.mode,
    ...(record.sharesWith ? { sharesWith: record.sharesWith } : {}),
    state: record.state,
    interfaces,
    ports: record.ports,
    containers: record.containers,
    // What the runtime API (kata-network, kata-ipvs) put into the running pod.
    ...(record.runtime.interfaces.length + record.runtime.routes.length > 0 || record.runtime.balancer ? { runtime: record.runtime } : {}),
    // What netmon or repair found that someone else added to the pod's vnet.
    ...(record.observed.interfaces.length + record.observed.addresses.length + record.observed.routes.length > 0 ? { observed: record.observed } : {}),
  };
}

/** Pods that share another's network go before it. */
function removalOrder(pods: PodRecord[]): string[] {
  const live = pods.filter((p) => p.state !== 'stopped');
  return [...live.filter((p) => p.sharesWith), ...live.filter((p) => !p.sharesWith)].map((p) => p.name);
}

function podCreate(pod: Command, context: CliContext): void {
  pod
    .command('create <name>')
    .description('create the pod jail, bring loopback up and attach its networks')
    .option('--network <net>', 'a network to attach (repeatable; eth0, eth1, … in order)', collect, [])
    .option('--mode <mode>', 'bridge | none | host | container:POD', 'bridge')
    .option('-p, --publish <spec>', 'publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/PROTO] (repeatable)', collect, [])
    .option('--ip <ip>', 'static address on the first network')
    .option('--mac <mac>', 'MAC address of the first interface')
    .option('--alias <name>', 'another name the pod answers to on networks with --dns (repeatable)', collect, [])
    .option('--restart <policy>', 'no | always (rc.d re-creates "always" pods at boot)', 'no')
    .option('--emit-jail-conf', 'print the jail.conf(5) of the pod instead of creating it', false)
    .action(async (name: string, options: { network: string[]; mode: string; publish: string[]; ip?: string; mac?: string; alias: string[]; restart: string; emitJailConf: boolean }) => {
      validatePodName(name);
      const ports: PortMapping[] = options.publish.map(parsePublish);
      if (options.restart !== 'no' && options.restart !== 'always') throw new PodError(`--restart takes no or always, not "${options.restart}"`);
      if (options.emitJailConf) {
        context.io.stdout(renderJailConf({ pod: name, mode: options.mode }));
        return;
      }
      const ctx = await context.pods();
      const record = await createPod(ctx, { name, networks: options.network, mode: options.mode, ports, ip: options.ip, mac: options.mac, aliases: options.alias, restart: options.restart });
      if (context.printPlanIfDry()) return;
      // The pod is printed as JSON: it is what callers read back.
      context.io.stdout(`${JSON.stringify(podView(record), null, 2)}\n`);
    });
}

function podRemove(pod: Command, context: CliContext): void {
  pod
    .command('rm [name]')
    .description('remove a pod: containers (with --force), DEL chains, jail -r, wait, verify')
    .option('--force', 'remove its containers first', false)
    .option('--all', 'every pod, sharers first, containers included; --restart always pods are kept for restore (rc.d stop)', false)
    .action(async (name: string | undefined, options: { force: boolean; all: boolean }) => {
      const ctx = await context.pods();
      if (options.all === (name !== undefined)) throw new PodError('give a pod name or --all');
      const names = options.all ? removalOrder(await ctx.store.all()) : [name as string];
      const report: Array<{ removed: string; cleaned: string[] }> = [];
      for (const pod of names) {
        const { cleaned } = await removePod(ctx, pod, { force: options.force || options.all, keepRestartRecord: options.all });
        report.push({ removed: pod, cleaned });
      }
      if (context.printPlanIfDry()) return;
      context.print(options.all ? report : report[0], () =>
        report.flatMap((r) => [`removed ${r.removed}`, ...r.cleaned.map((c) => `cleaned leftover: ${c}`)]).join('\n'),
      );
    });
}

function podRestore(pod: Command, context: CliContext): void {
  pod
    .command('restore')
    .description('re-create the pods marked --restart always (rc.d start)')
    .action(async () => {
      const { restored, errors } = await restorePods(await context.pods());
      if (!context.printPlanIfDry()) context.print(restored.map(podView), () => restored.map((p) => `restored ${p.name}`).join('\n'));
      context.report(errors);
    });
}

function podList(pod: Command, context: CliContext): void {
  pod
    .command('ls')
    .description('list pods')
    .action(async () => {
      const pods = await (await context.pods()).store.all();
      context.print(pods.map(podView), () =>
        pods.map((p) => `${p.name.padEnd(20)} ${p.mode.padEnd(9)} ${p.state.padEnd(8)} ${p.jail}  ${podView(p).interfaces.flatMap((i) => i.addresses).join(' ')}`).join('\n'),
      );
    });
}

function podInspect(pod: Command, context: CliContext): void {
  pod
    .command('inspect <name>')
    .description('show a pod')
    .action(async (name: string) => {
      const record = await (await context.pods()).store.read(validatePodName(name));
      if (!record) throw new PodError(`pod ${name} does not exist`);
      const view = podView(record);
      context.print(view, () => JSON.stringify(view, null, 2));
    });
}

export function podCommand(context: CliContext): Command {
  const pod = new Command('pod').description('pods: a parent jail that owns the network, containers as child jails');

  podCreate(pod, context);
  podRemove(pod, context);
  podRestore(pod, context);
  podList(pod, context);
  podInspect(pod, context);
  return pod;
}

export function containerCommand(context: CliContext): Command {
  const container = new Command('container').description("a pod's containers: child jails that inherit its addresses");

  container
    .command('add <pod> <name>')
    .description('create the child jail <podjail>.<name> with ip4=inherit ip6=inherit')
    .requiredOption('--path <root>', 'root directory of the container')
    .option('--hostname <h>', 'hostname (default: the container name)')
    .option('--emit-jail-conf', 'print the jail.conf(5) of the container instead of creating it', false)
    .action(async (pod: string, name: string, options: { path: string; hostname?: string; emitJailConf: boolean }) => {
      if (options.emitJailConf) {
        context.io.stdout(renderContainerConf({ pod: validatePodName(pod), container: validateContainerName(name), path: options.path }));
        return;
      }
      const record = await addContainer(await context.pods(), pod, name, options);
      if (context.printPlanIfDry()) return;
      const added = record.containers.find((c) => c.name === name);
      context.print(added, () => `${added?.jail}`);
    });

  container
    .command('rm <pod> <name>')
    .description('remove a container jail')
    .action(async (pod: string, name: string) => {
      await removeContainer(await context.pods(), pod, name);
      if (context.printPlanIfDry()) return;
      context.print({ removed: `${pod}/${name}` }, () => `removed ${pod}/${name}`);
    });

  container
    .command('exec <pod> <name> <command...>')
    .description('run a command inside a container (jexec on FreeBSD); its output and exit code are passed through')
    .action(async (pod: string, name: string, argv: string[]) => {
      const ctx = await context.pods();
      const record = await ctx.store.read(validatePodName(pod));
      const found = record?.containers.find((c) => c.name === validateContainerName(name));
      if (!found) throw new PodError(`container ${name} does not exist in pod ${pod}`);
      const result = await ctx.host.runInJail(found.jail, argv);
      if (context.printPlanIfDry()) return;
      context.io.stdout(result.stdout);
      context.io.stderr(result.stderr);
      context.exitCode = result.exitCode;
    });

  container
    .command('ls <pod>')
    .description("list a pod's containers")
    .action(async (pod: string) => {
      const record = await (await context.pods()).store.read(validatePodName(pod));
      if (!record) throw new PodError(`pod ${pod} does not exist`);
      context.print(record.containers, () => record.containers.map((c) => `${c.name.padEnd(20)} ${c.jail.padEnd(30)} ${c.path}`).join('\n'));
    });

  return container;
}
