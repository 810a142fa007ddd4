// `jailnet topology` as text (a tree an admin reads) and as Graphviz dot (networks as
// ellipses, each pod a cluster with its containers and hot-plugged interfaces, published
// ports on the pod, the load balancer's services as diamonds pointing at their real
// servers, what was added outside jailnet as a dashed note; on a network with container
// names, the names its DNS serves). Pure: data in, text out.
import { observedPhrases } from '../pods/store.js';
import type { PodNode, ServedName, Topology } from './model.js';

const portText = (p: PodNode['ports'][number]) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}->${p.containerPort}/${p.protocol}`;
const serverText = (r: PodNode['services'][number]['servers'][number]) => `${r.address}:${r.port} w${r.weight}`;
const routeText = (r: PodNode['runtimeRoutes'][number]) => `${r.dest}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.device}`;
const namesText = (names: string[] | undefined) => (names?.length ? ` names ${names.join(', ')}` : '');
const servedText = (served: ServedName) => `${served.names.join(',')} ${served.addresses.join(',') || '-'}`;
const runtimeText = (i: PodNode['runtimeInterfaces'][number]) => `${i.name} (${i.linkType} ${i.device}, kata-network): ${i.addresses.join(' ') || '-'}`;

function podLines(pod: PodNode): string[] {
  const lines = [`pod ${pod.name} (${pod.mode}, ${pod.state}) jail ${pod.jail}${pod.sharesWith ? ` shares ${pod.sharesWith}` : ''}`];
  for (const a of pod.attachments) lines.push(`  ${a.ifname} on ${a.network}: ${a.addresses.join(' ') || '-'}${namesText(a.names)}`);
  for (const i of pod.runtimeInterfaces) lines.push(`  ${runtimeText(i)}`);
  for (const r of pod.runtimeRoutes) lines.push(`  route ${routeText(r)} (kata-network)`);
  const outside = observedPhrases(pod.addedOutside);
  if (outside.length > 0) lines.push(`  added outside jailnet: ${outside.join(', ')}`);
  if (pod.ports.length > 0) lines.push(`  ports: ${pod.ports.map(portText).join(', ')}`);
  if (pod.containers.length > 0) lines.push(`  containers: ${pod.containers.join(', ')}`);
  for (const s of pod.services) lines.push(`  service ${s.protocol.toUpperCase()} ${s.address}:${s.port} ${s.scheduler} -> ${s.servers.map(serverText).join(', ') || '-'}`);
  return lines;
}

export function topologyText(topology: Topology): string {
  const lines: string[] = [];
  for (const n of topology.networks) {
    lines.push(`network ${n.name}: bridge ${n.bridge ?? '-'} ${n.subnets.join(' ')}`);
    lines.push(`  members: ${n.members.join(' ') || '-'}`);
    lines.push(`  pods: ${n.pods.join(' ') || '-'}`);
    if (n.dns) lines.push(`  names (${n.dns.domain}): ${n.dns.served.map(servedText).join('; ') || '-'}`);
  }
  for (const pod of topology.pods) lines.push(...podLines(pod));
  return lines.join('\n');
}

/** A dot string: quoted, its quotes and backslashes escaped, a line break as dot's \\n. */
const q = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

function podCluster(pod: PodNode, index: number): string[] {
  const viaOwn = pod.runtimeRoutes.filter((r) => !pod.runtimeInterfaces.some((i) => i.name === r.device)).map((r) => `route ${routeText(r)}`);
  const names = [...new Set(pod.attachments.flatMap((a) => a.names ?? []))];
  const label = [pod.name, ...pod.attachments.flatMap((a) => a.addresses), ...(names.length > 0 ? [`names ${names.join(', ')}`] : []), ...pod.ports.map(portText), ...viaOwn].join('\n');
  const lines = [`  subgraph cluster_${index} {`, `    label=${q(`pod ${pod.name}`)};`, `    ${q(`pod:${pod.name}`)} [label=${q(label)}];`];
  for (const c of pod.containers) lines.push(`    ${q(`ctr:${pod.name}/${c}`)} [label=${q(c)} shape=component];`, `    ${q(`pod:${pod.name}`)} -> ${q(`ctr:${pod.name}/${c}`)} [arrowhead=none];`);
  lines.push(...podExtras(pod), '  }');
  for (const a of pod.attachments) lines.push(`  ${q(`pod:${pod.name}`)} -> ${q(`net:${a.network}`)} [label=${q(a.ifname)} arrowhead=none];`);
  if (pod.sharesWith) lines.push(`  ${q(`pod:${pod.name}`)} -> ${q(`pod:${pod.sharesWith}`)} [style=dashed label="shares"];`);
  for (const s of pod.services) {
    const id = `svc:${pod.name}/${s.protocol}/${s.address}/${s.port}`;
    lines.push(`  ${q(id)} [label=${q(`${s.protocol.toUpperCase()} ${s.address}:${s.port}\n${s.scheduler}`)} shape=diamond];`);
    lines.push(`  ${q(`pod:${pod.name}`)} -> ${q(id)};`);
    for (const r of s.servers) lines.push(`  ${q(id)} -> ${q(`addr:${r.address}`)} [label=${q(`:${r.port} w${r.weight}`)}];`);
  }
  return lines;
}

/** A pod's hot-plugged interfaces (with the routes through them) and what was added outside jailnet, inside its cluster. */
function podExtras(pod: PodNode): string[] {
  const lines: string[] = [];
  for (const i of pod.runtimeInterfaces) {
    const id = `rif:${pod.name}/${i.name}`;
    const routes = pod.runtimeRoutes.filter((r) => r.device === i.name).map((r) => `route ${routeText(r)}`);
    const label = [`${i.name} (${i.linkType} ${i.device})`, ...i.addresses, ...routes].join('\n');
    lines.push(`    ${q(id)} [label=${q(label)} shape=cds];`, `    ${q(`pod:${pod.name}`)} -> ${q(id)} [arrowhead=none label="kata-network"];`);
  }
  const outside = observedPhrases(pod.addedOutside);
  if (outside.length > 0) {
    const id = `out:${pod.name}`;
    lines.push(`    ${q(id)} [label=${q(['added outside jailnet', ...outside].join('\n'))} shape=note style=dashed];`, `    ${q(`pod:${pod.name}`)} -> ${q(id)} [style=dashed arrowhead=none];`);
  }
  return lines;
}

/** Real servers that are a pod's address point at that pod; any other gets a node of its own. */
function serverNodes(topology: Topology): string[] {
  const owners = new Map(topology.pods.flatMap((p) => p.attachments.flatMap((a) => a.addresses.map((cidr) => [cidr.split('/')[0] as string, p.name] as const))));
  const servers = new Set(topology.pods.flatMap((p) => p.services.flatMap((s) => s.servers.map((r) => r.address))));
  return [...servers].map((address) => {
    const owner = owners.get(address);
    return owner ? `  ${q(`addr:${address}`)} [shape=point]; ${q(`addr:${address}`)} -> ${q(`pod:${owner}`)} [arrowhead=none];` : `  ${q(`addr:${address}`)} [label=${q(address)} shape=plaintext];`;
  });
}

export function topologyDot(topology: Topology): string {
  const lines = ['digraph jailnet {', '  rankdir=LR;', '  node [shape=box fontname="Helvetica"];'];
  for (const n of topology.networks) {
    const label = [n.name, `bridge ${n.bridge ?? '-'}`, ...n.subnets, ...(n.dns ? [`names: ${n.dns.domain}`] : [])].join('\n');
    lines.push(`  ${q(`net:${n.name}`)} [label=${q(label)} shape=ellipse];`);
  }
  topology.pods.forEach((pod, index) => lines.push(...podCluster(pod, index)));
  lines.push(...serverNodes(topology), '}');
  return `${lines.join('\n')}\n`;
}
