// `jailnet topology [--format text|json|dot]`: networks, their bridges and members, pods,
// their containers, addresses, published ports, load-balancer services, interfaces and
// routes hot-plugged with kata-network, what was added outside jailnet, and the container
// names each network's DNS serves. Reads only.
import { Command, Option } from 'commander';
import { listNetworks } from '../cni/conflist.js';
import { DNS_SEARCH_DOMAIN, servedEntries } from '../dns/aardvark.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { buildTopology, type NetworkConfig } from '../topology/model.js';
import { topologyDot, topologyText } from '../topology/render.js';
import type { Host } from '../hosts/host.js';
import type { CliContext } from './context.js';
import { bridgeOf, subnetsOf } from './network-command.js';

function networkConfig(name: string, bytes: Buffer): NetworkConfig {
  const raw = JSON.parse(bytes.toString()) as { plugins: Array<Record<string, unknown>> };
  const bridge = bridgeOf(raw);
  const dnsname = raw.plugins.find((p) => p.type === 'dnsname');
  const dnsDomain = dnsname ? (typeof dnsname.domainName === 'string' ? dnsname.domainName : DNS_SEARCH_DOMAIN) : undefined;
  return { name, ...(bridge ? { bridge } : {}), subnets: subnetsOf(raw), ...(dnsDomain !== undefined ? { dnsDomain } : {}) };
}

/** Each bridge's members as the host lists them; a bridge that is not there has none. */
async function bridgeMembers(host: Host, bridges: string[]): Promise<Map<string, string[]>> {
  const members = new Map<string, string[]>();
  for (const bridge of bridges) {
    const info = await host.inspectInterface(bridge).catch(() => undefined);
    if (info) members.set(bridge, info.members);
  }
  return members;
}

export function topologyCommand(context: CliContext): Command {
  return new Command('topology')
    .description("networks, bridges and their members, pods, containers, addresses, published ports, load-balancer services, hot-plugged interfaces and routes")
    .addOption(new Option('--format <format>', 'text, json or dot (Graphviz)').choices(['text', 'json', 'dot']).default('text'))
    .action(async (options: { format: 'text' | 'json' | 'dot' }) => {
      const { runtime } = await context.config();
      const networks = (await listNetworks(runtime.cniConfigDir)).lists.map((l) => networkConfig(l.name, l.bytes));
      const ctx = await context.pods();
      const members = await bridgeMembers(ctx.host, networks.map((n) => n.bridge).filter((b): b is string => b !== undefined));
      // The dnsname plugin's aardvark directory: the names served, read only when a network has names.
      const served = networks.some((n) => n.dnsDomain !== undefined) ? await servedEntries(cniAardvarkDir(process.env)) : new Map();
      const topology = buildTopology(ctx.host.kind, networks, await ctx.store.all(), members, served);
      if (options.format === 'dot') context.io.stdout(topologyDot(topology));
      else if (options.format === 'json' || context.json()) context.io.stdout(`${JSON.stringify(topology, null, 2)}\n`);
      else context.io.stdout(`${topologyText(topology)}\n`);
    });
}
