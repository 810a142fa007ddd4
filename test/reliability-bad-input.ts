// Bad input, generated from the plugins' and the CLI's own schemas: malformed JSON,
// wrong types for every field, out-of-range values, invalid MACs, subnets with host
// bits, overlapping ranges, huge and non-UTF-8 input, NUL bytes, hostile names in
// everything that reaches a host command or a path, missing environment, bad config
// files. Each must give a clear error of the right kind — the CNI code from a plugin,
// one line and a non-zero exit from the CLI, never a stack trace — and change nothing:
// not the host, the leases, the records or the cache. Plugins and the CLI run in
// process (their main functions take the environment, stdin and output as arguments).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { z } from 'zod';
import { main } from '../src/cli/main.js';
import { runPlugin, type Plugin } from '../src/cni/skel.js';
import { IpamSchema } from '../src/ipam/config.js';
import { bridge } from '../src/plugins/bridge/index.js';
import { BridgeConfSchema } from '../src/plugins/bridge/config.js';
import { firewall, FirewallConfSchema } from '../src/plugins/firewall.js';
import { hostLocal } from '../src/plugins/host-local.js';
import { loopback } from '../src/plugins/loopback.js';
import { MappingSchema, portmap, PortmapConfSchema } from '../src/plugins/portmap.js';
import { tuning, TuningConfSchema } from '../src/plugins/tuning.js';
import { dnsname, DnsnameConfSchema } from '../src/plugins/dnsname.js';
import { comparable, podmanDefaultNetwork } from './helpers/podnet.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { PLUGIN_DIR } from './helpers/run.js';
import { snapshotTree } from './helpers/snapshot.js';
import { setup } from './helpers/sim.js';

t.setTimeout(900_000);

const PLUGINS: Record<string, Plugin> = { bridge, 'host-local': hostLocal, portmap, firewall, tuning, loopback, dnsname };
type PluginName = keyof typeof PLUGINS;

interface PluginCase {
  what: string;
  plugin: PluginName;
  env: Record<string, string | undefined>;
  /** jailnet's own variables (JAILNET_CONFIG …), which a plugin reads from its process environment. */
  processEnv?: Record<string, string>;
  stdin: Buffer;
  /** The CNI error code that is the right answer. */
  code: number;
}

/** Names that must never reach a host command or a path, for every kind of name. */
const HOSTILE = ['', '.', '..', '../x', 'a/b', '/etc', 'a b', ' a', 'a\tb', 'a\nb', '-x', '--x', 'a;b', '$(id)', '`id`', 'a|b', 'a\0b', 'é', 'x'.repeat(16), 'x'.repeat(300)];
/** What each kind of name additionally refuses, beyond the hostile ones. */
const NAME_KINDS = {
  ifname: [...HOSTILE, 'a:b', '0eth'],
  containerId: [...HOSTILE.filter((n) => n !== 'x'.repeat(16)), '*', '.x'],
  netns: [...HOSTILE.filter((n) => n !== 'x'.repeat(16)), 'a..b', 'x.', '.x'],
  network: [...HOSTILE.filter((n) => n !== 'x'.repeat(16)), 'x'.repeat(101)],
  bridge: [...HOSTILE, '0bridge', 'lo0'],
} as const;

const LEASES = 'leases';

/** The stdin of one plugin of podman's default chain, with a prevResult for the chained ones. */
function entryOf(lab: PodLab, plugin: PluginName): Record<string, unknown> {
  const list = podmanDefaultNetwork(path.join(lab.dir, LEASES));
  const byType: Record<string, Record<string, unknown>> = Object.fromEntries(list.plugins.map((p) => [p.type, p as Record<string, unknown>]));
  const ipam = (byType.bridge as { ipam: Record<string, unknown> }).ipam;
  const prevResult = { cniVersion: '0.4.0', interfaces: [{ name: 'eth0', sandbox: 'ctr1' }], ips: [{ version: '4', interface: 0, address: '10.88.0.9/16', gateway: '10.88.0.1' }], routes: [], dns: {} };
  // podman's CNI backend adds dnsname to a new network where it finds the plugin (cni_conversion.go).
  const dnsname = { type: 'dnsname', domainName: 'dns.podman', capabilities: { aliases: true } };
  const entry = plugin === 'host-local' ? { type: 'host-local', ipam } : plugin === 'loopback' ? { type: 'loopback' } : plugin === 'dnsname' ? dnsname : { ...byType[plugin] };
  const chained = plugin === 'portmap' || plugin === 'firewall' || plugin === 'tuning' || plugin === 'dnsname';
  return { cniVersion: '0.4.0', name: 'podman', ...entry, ...(chained ? { prevResult } : {}) };
}

function baseEnv(command = 'ADD'): Record<string, string | undefined> {
  return { CNI_COMMAND: command, CNI_CONTAINERID: `bad${'0'.repeat(61)}`, CNI_NETNS: 'ctr1', CNI_IFNAME: 'eth1', CNI_PATH: PLUGIN_DIR };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** The base type of a schema field: optional, default and nullable wrappers removed. */
function baseType(field: z.ZodType): { type: string; min?: number; max?: number } {
  let def = (field as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; checks?: Array<{ _zod: { def: { check: string; value: number } } }> } } })._zod.def;
  while (def.innerType) def = (def.innerType as unknown as { _zod: { def: typeof def } })._zod.def;
  const bound = (check: string) => def.checks?.map((c) => c._zod.def).find((c) => c.check === check)?.value;
  return { type: def.type, min: bound('greater_than'), max: bound('less_than') };
}

/** Values of the wrong type (and out of range) for a field of this base type. */
function wrongValues({ type, min, max }: ReturnType<typeof baseType>): unknown[] {
  switch (type) {
    case 'string':
      return [42, true, null, [], {}];
    case 'boolean':
      return ['true', 1, null, []];
    case 'number':
      return ['1', true, null, 1.5, ...(min !== undefined ? [min - 1] : []), ...(max !== undefined ? [max + 1] : [])];
    case 'array':
      return ['x', 1, {}, null];
    case 'object':
      return ['x', 1, [], null];
    case 'enum':
      return ['no-such-value', 1, null];
    case 'record':
      return ['x', [], { key: 1 }];
    default:
      return [];
  }
}

/** Every field of a plugin's schema, each with every wrong value: code 7. */
function schemaCases(lab: PodLab, plugin: PluginName, schema: z.ZodObject, at: (entry: Record<string, unknown>) => Record<string, unknown> = (e) => e): PluginCase[] {
  const cases: PluginCase[] = [];
  for (const [field, fieldSchema] of Object.entries(schema.shape)) {
    for (const value of wrongValues(baseType(fieldSchema as z.ZodType))) {
      const entry = structuredClone(entryOf(lab, plugin));
      at(entry)[field] = value;
      cases.push({ what: `${plugin} ${field}=${JSON.stringify(value)}`, plugin, env: baseEnv(), stdin: json(entry), code: 7 });
    }
  }
  return cases;
}

function envCases(lab: PodLab, plugin: PluginName): PluginCase[] {
  const cases: PluginCase[] = [];
  const stdin = json(entryOf(lab, plugin));
  for (const command of ['ADD', 'DEL', 'CHECK']) {
    for (const name of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH', ...(command === 'DEL' ? [] : ['CNI_NETNS'])]) {
      cases.push({ what: `${plugin} ${command} without ${name}`, plugin, env: { ...baseEnv(command), [name]: undefined }, stdin, code: 4 });
    }
    // An unknown key is refused only by the plugins that read CNI_ARGS (as the reference plugins do).
    const readsArgs = plugin === 'bridge' || plugin === 'host-local' || plugin === 'tuning' || plugin === 'dnsname';
    for (const args of ['=x', 'novalue', 'A=1;;B=2', 'A=1=2', ...(readsArgs ? ['FOO=bar'] : [])]) {
      cases.push({ what: `${plugin} ${command} CNI_ARGS=${args}`, plugin, env: { ...baseEnv(command), CNI_ARGS: args }, stdin, code: 4 });
    }
  }
  cases.push({ what: `${plugin} CNI_COMMAND=BOGUS`, plugin, env: { ...baseEnv(), CNI_COMMAND: 'BOGUS' }, stdin, code: 4 });
  return cases;
}

function stdinCases(lab: PodLab, plugin: PluginName): PluginCase[] {
  const entry = entryOf(lab, plugin);
  const raw = JSON.stringify(entry);
  const [head, tail] = raw.split('"name":"podman"') as [string, string];
  const cases: Array<[string, Buffer, number]> = [
    ['not JSON', Buffer.from('{"cniVersion": '), 6],
    ['empty', Buffer.from(''), 6],
    ['a JSON array', json([entry]), 6],
    ['JSON null', json(null), 6],
    ['a JSON string', json('x'), 6],
    ['over 1 MiB', Buffer.from(`{"pad":"${'x'.repeat(1_100_000)}"}`), 5],
    ['non-UTF-8 bytes in the name', Buffer.concat([Buffer.from(`${head}"name":"pod`), Buffer.from([0xff, 0xfe]), Buffer.from(`man"${tail}`)]), 7],
    ['a NUL byte in the name', Buffer.from(raw.replace('"name":"podman"', '"name":"pod\\u0000man"')), 7],
    ['no cniVersion', json({ ...entry, cniVersion: undefined }), 1],
    ['cniVersion 9.9.9', json({ ...entry, cniVersion: '9.9.9' }), 1],
    ['no name', json({ ...entry, name: undefined }), 7],
  ];
  return cases.map(([what, stdin, code]) => ({ what: `${plugin} stdin ${what}`, plugin, env: baseEnv(), stdin, code }));
}

/** Hostile names in CNI_IFNAME, CNI_CONTAINERID, CNI_NETNS, the network and the bridge name. */
function nameCases(lab: PodLab): PluginCase[] {
  const cases: PluginCase[] = [];
  const stdin = json(entryOf(lab, 'bridge'));
  for (const command of ['ADD', 'DEL', 'CHECK']) {
    for (const name of NAME_KINDS.ifname) cases.push({ what: `bridge ${command} CNI_IFNAME=${JSON.stringify(name)}`, plugin: 'bridge', env: { ...baseEnv(command), CNI_IFNAME: name }, stdin, code: 4 });
    for (const name of NAME_KINDS.containerId) cases.push({ what: `bridge ${command} CNI_CONTAINERID=${JSON.stringify(name)}`, plugin: 'bridge', env: { ...baseEnv(command), CNI_CONTAINERID: name }, stdin, code: name === '' ? 4 : 4 });
    for (const name of NAME_KINDS.network) cases.push({ what: `bridge ${command} network ${JSON.stringify(name)}`, plugin: 'bridge', env: baseEnv(command), stdin: json({ ...entryOf(lab, 'bridge'), name }), code: 7 });
    // lo0 is a well-formed name: only ADD, which must put a pod on it, refuses it.
    const bridges = command === 'ADD' ? NAME_KINDS.bridge : NAME_KINDS.bridge.filter((n) => n !== 'lo0');
    for (const name of bridges) cases.push({ what: `bridge ${command} bridge ${JSON.stringify(name)}`, plugin: 'bridge', env: baseEnv(command), stdin: json({ ...entryOf(lab, 'bridge'), bridge: name }), code: 7 });
  }
  for (const plugin of ['bridge', 'tuning', 'loopback'] as const) {
    for (const name of NAME_KINDS.netns) cases.push({ what: `${plugin} ADD CNI_NETNS=${JSON.stringify(name)}`, plugin, env: { ...baseEnv(), CNI_NETNS: name }, stdin: json(entryOf(lab, plugin)), code: 4 });
  }
  return cases;
}

/** Values of the right type that no network can work with. */
function valueCases(lab: PodLab): PluginCase[] {
  const cases: PluginCase[] = [];
  const add = (plugin: PluginName, what: string, change: (entry: Record<string, any>) => void, code = 7, command = 'ADD') => {
    const entry = structuredClone(entryOf(lab, plugin)) as Record<string, any>;
    change(entry);
    cases.push({ what: `${plugin} ${command} ${what}`, plugin, env: baseEnv(command), stdin: json(entry), code });
  };
  for (const mtu of [-1, 1, 71, 65536]) add('bridge', `mtu ${mtu}`, (e) => (e.mtu = mtu));
  add('bridge', 'vlan 1', (e) => (e.vlan = 1), 2);
  for (const mac of ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '00:00:00:00:00:00', '02:00:00:00:00', 'zz:00:00:00:00:01', '02-00-00-00-00-01']) {
    add('bridge', `runtimeConfig.mac ${mac}`, (e) => (e.runtimeConfig = { mac }));
    add('tuning', `mac ${mac}`, (e) => (e.mac = mac));
  }
  for (const plugin of ['bridge', 'host-local'] as const) {
    const ipam = (e: Record<string, any>) => e.ipam as Record<string, any>;
    if (plugin === 'bridge') {
      add(plugin, 'ipam.type bridge (itself)', (e) => (ipam(e).type = 'bridge'));
      add(plugin, 'ipam.type portmap', (e) => (ipam(e).type = 'portmap'));
      // host-local, like the reference, takes a gateway outside the subnet; a bridge cannot carry it.
      add(plugin, 'a gateway outside the subnet', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16', gateway: '10.99.0.1' }]]));
    }
    for (const dir of ['/proc/self', '/sys/x', '/dev/shm/x', 'relative/dir', '/a/../etc']) add(plugin, `ipam.dataDir ${dir}`, (e) => (ipam(e).dataDir = dir));
    add(plugin, 'a subnet with host bits', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.5/16' }]]));
    add(plugin, 'a /33', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/33' }]]));
    add(plugin, 'rangeStart after rangeEnd', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16', rangeStart: '10.88.9.0', rangeEnd: '10.88.1.0' }]]));
    add(plugin, 'overlapping range sets', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16' }], [{ subnet: '10.88.1.0/24' }]]));
    add(plugin, 'no ranges', (e) => (ipam(e).ranges = []));
    add(plugin, 'a route to nowhere', (e) => (ipam(e).routes = [{ dst: 'default' }]));
    // issue 33 item 7: each of these was taken as if it were right.
    add(plugin, 'a route dst with host bits', (e) => (ipam(e).routes = [{ dst: '10.0.0.1/8' }]));
    add(plugin, 'the broadcast address as gateway', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16', gateway: '10.88.255.255' }]]));
    add(plugin, 'the network address as gateway', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.0' }]]));
    if (plugin === 'host-local') add(plugin, 'a gateway outside the subnet', (e) => (ipam(e).ranges = [[{ subnet: '10.88.0.0/16', gateway: '10.99.0.1' }]]));
  }
  for (const dns of ['8.8.8.8', 1, [], { nameservers: '8.8.8.8' }, { search: 'x' }]) add('bridge', `dns ${JSON.stringify(dns)}`, (e) => (e.dns = dns));
  for (const address of ['x', '10.88.0.2', '10.88.0.300/16']) add('portmap', `a prevResult address ${address}`, (e) => ((e.prevResult as { ips: Array<{ address: string }> }).ips[0]!.address = address), 6);
  add('portmap', 'a prevResult gateway that is not an IP', (e) => ((e.prevResult as { ips: Array<{ gateway?: string }> }).ips[0]!.gateway = 'x'), 6);
  add('portmap', 'one host port twice', (e) => (e.runtimeConfig = { portMappings: [{ hostPort: 8088, containerPort: 80 }, { hostPort: 8088, containerPort: 81 }] }));
  add('portmap', 'one host port twice, once on 0.0.0.0', (e) => (e.runtimeConfig = { portMappings: [{ hostPort: 8088, containerPort: 80, hostIP: '0.0.0.0' }, { hostPort: 8088, containerPort: 81, hostIP: '192.0.2.1' }] }));
  for (const [what, mapping] of [['hostPort 0', { hostPort: 0, containerPort: 80 }], ['hostPort 65536', { hostPort: 65536, containerPort: 80 }], ['containerPort -1', { hostPort: 80, containerPort: -1 }], ['protocol icmp', { hostPort: 80, containerPort: 80, protocol: 'icmp' }], ['hostIP x', { hostPort: 80, containerPort: 80, hostIP: 'x' }], ['hostPort "80"', { hostPort: '80', containerPort: 80 }]] as const) {
    add('portmap', what, (e) => (e.runtimeConfig = { portMappings: [mapping] }));
  }
  add('portmap', 'markMasqBit', (e) => (e.markMasqBit = 13), 2);
  add('portmap', 'markMasqBit on DEL', (e) => (e.markMasqBit = 13), 2, 'DEL');
  add('portmap', 'snat "yes" on DEL', (e) => (e.snat = 'yes'), 7, 'DEL');
  add('firewall', 'backend iptables', (e) => (e.backend = 'iptables'), 2);
  add('firewall', 'ingressPolicy bogus on DEL', (e) => (e.ingressPolicy = 'bogus'), 7, 'DEL');
  add('tuning', 'a kern.* sysctl', (e) => (e.sysctl = { 'kern.securelevel': '3' }));
  add('tuning', 'a sysctl value that is not a number', (e) => (e.sysctl = { 'net.inet.ip.ttl': 'abc' }));
  add('tuning', 'mtu 71', (e) => (e.mtu = 71));
  add('tuning', 'allmulti', (e) => (e.allmulti = true), 2);
  // Names aardvark-dns cannot serve as one label (issue 31), and domains it does not answer under.
  const labels = ['a.b', 'a b', 'a,b', 'a\nb', 'x'.repeat(64), '-a', ''];
  for (const name of labels) {
    if (name !== '') cases.push({ what: `dnsname ADD K8S_POD_NAME=${JSON.stringify(name)}`, plugin: 'dnsname', env: { ...baseEnv(), CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${name}` }, stdin: json(entryOf(lab, 'dnsname')), code: 4 });
    add('dnsname', `alias ${JSON.stringify(name)}`, (e) => (e.runtimeConfig = { aliases: { podman: ['ok', name] } }));
  }
  for (const domain of ['not a name', 'example.com', '', 'dns..podman']) add('dnsname', `domainName ${JSON.stringify(domain)}`, (e) => (e.domainName = domain));
  return cases;
}

interface Figures {
  tried: number;
  rightKind: number;
  changes: number;
  stackTraces: number;
}

async function stateOf(lab: PodLab): Promise<string> {
  const tree = await snapshotTree(lab.dir);
  const files = Object.fromEntries(Object.entries(tree).filter(([name]) => !name.startsWith('sim/')));
  return JSON.stringify({ files, host: comparable(lab.sim.state()) });
}

async function runPluginCase(c: PluginCase): Promise<{ exit: number; output: string }> {
  let output = '';
  const env = Object.fromEntries(Object.entries(c.env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  const saved = { ...process.env };
  Object.assign(process.env, c.processEnv ?? {});
  try {
    const exit = await runPlugin(PLUGINS[c.plugin] as Plugin, { env, stdin: [c.stdin], writeStdout: (text) => (output += text) });
    return { exit, output };
  } finally {
    Object.assign(process.env, saved);
  }
}

const figures: Figures = { tried: 0, rightKind: 0, changes: 0, stackTraces: 0 };
t.teardown(() => t.comment(`bad input: ${figures.tried} cases tried, ${figures.rightKind} errors of the right kind, ${figures.changes} state changes found, ${figures.stackTraces} stack traces`));

/** A simulated host in use, with the plugins of this process pointed at it. */
async function busyLab(t: Parameters<typeof podLab>[0] & { teardown(fn: () => void): void }): Promise<PodLab> {
  const lab = await podLab(t);
  await setup(lab.sim, [['jail', '-c', 'name=ctr1', 'path=/', 'vnet', 'persist']]);
  await fs.mkdir(lab.netDir, { recursive: true });
  await fs.writeFile(path.join(lab.netDir, 'podman.conflist'), JSON.stringify(podmanDefaultNetwork(path.join(lab.dir, LEASES))));
  const live = await lab.jailnet(['cni', 'add', '--network', 'podman', '--container-id', `live${'0'.repeat(60)}`, '--netns', 'ctr1', '--runtime-config', JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80 }] })]);
  if (live.code !== 0) throw new Error(live.stderr);
  const saved = { ...process.env };
  Object.assign(process.env, lab.env);
  // What the plugins start (host-local, the simulated tools) should not start under tap's
  // loader. tap's processinfo patches child_process in this process and puts its loader back
  // into every child's NODE_OPTIONS anyway; without the variable that says coverage is off,
  // those children would collect coverage, and tap fails a run whose coverage report is
  // incomplete even with coverage disabled.
  for (const key of Object.keys(process.env)) if (/^(NODE_OPTIONS|TAP|_TAPJS)/.test(key)) delete process.env[key];
  process.env._TAPJS_PROCESSINFO_COVERAGE_ = '0';
  t.teardown(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  return lab;
}

t.test('plugins: every bad input gets its CNI error code and changes nothing', async (t) => {
  const lab = await busyLab(t);
  const cases = [
    ...Object.keys(PLUGINS).flatMap((p) => [...envCases(lab, p), ...stdinCases(lab, p)]),
    ...schemaCases(lab, 'bridge', BridgeConfSchema),
    ...schemaCases(lab, 'host-local', IpamSchema, (e) => e.ipam as Record<string, unknown>),
    ...schemaCases(lab, 'portmap', PortmapConfSchema),
    ...schemaCases(lab, 'portmap', MappingSchema, (e) => {
      e.runtimeConfig = { portMappings: [{ hostPort: 9090, containerPort: 90 }] };
      return ((e.runtimeConfig as { portMappings: Array<Record<string, unknown>> }).portMappings[0]) as Record<string, unknown>;
    }),
    ...schemaCases(lab, 'firewall', FirewallConfSchema),
    ...schemaCases(lab, 'tuning', TuningConfSchema),
    ...schemaCases(lab, 'dnsname', DnsnameConfSchema),
    ...nameCases(lab),
    ...valueCases(lab),
    ...(await configCases(lab)),
  ];
  const before = await stateOf(lab);
  const wrong: string[] = [];
  for (const c of cases) {
    const { exit, output } = await runPluginCase(c);
    figures.tried++;
    let error: { code?: number; msg?: string; details?: string } = {};
    try {
      error = JSON.parse(output);
    } catch {
      error = {};
    }
    const right = exit === 1 && error.code === c.code && typeof error.msg === 'string';
    if (right) figures.rightKind++;
    else wrong.push(`${c.what}: exit ${exit}, ${output.trim().slice(0, 200)}`);
    if (/\n\s+at \S/.test(`${error.msg}\n${error.details}`)) figures.stackTraces++;
    const after = await stateOf(lab);
    if (after !== before) {
      figures.changes++;
      wrong.push(`${c.what}: changed the state`);
      break;
    }
  }
  t.ok(cases.length >= 400, `${cases.length} plugin cases`);
  t.same(wrong, [], 'every case: exit 1, the right code, no change');
});

interface CliCase {
  what: string;
  args: string[];
  env?: Record<string, string>;
  /** The exit code: 1 for a refused command, 2 for usage and configuration errors. */
  exit: number;
}

function cliCases(lab: PodLab, conf: string): CliCase[] {
  const cases: CliCase[] = [];
  const add = (what: string, args: string[], exit = 1, env?: Record<string, string>) => cases.push({ what, args: ['--config', conf, ...args], exit, ...(env ? { env } : {}) });
  // 16 characters are fine for pods, containers and networks (up to 63).
  const names = HOSTILE.filter((n) => n !== '' && !n.startsWith('-') && n !== 'x'.repeat(16));
  for (const name of [...names, 'a.b', 'x'.repeat(64), '123']) {
    add(`pod create ${JSON.stringify(name)}`, ['pod', 'create', '--network', 'net1', '--', name]);
    add(`pod rm ${JSON.stringify(name)}`, ['pod', 'rm', '--', name]);
    add(`pod inspect ${JSON.stringify(name)}`, ['pod', 'inspect', '--', name]);
    add(`container add ok ${JSON.stringify(name)}`, ['container', 'add', '--path', '/', '--', 'ok', name]);
    add(`network create ${JSON.stringify(name)}`, ['network', 'create', '--', name]);
    // Interface names may hold dots (em0.100), so "a.b" is a fine bridge name.
    if (name !== 'a.b') add(`network create --bridge ${JSON.stringify(name)}`, ['network', 'create', 'n2', '--bridge', name]);
    add(`pod create --network ${JSON.stringify(name)}`, ['pod', 'create', 'p2', '--network', name]);
  }
  for (const bridge of ['lo0', 'vtnet0', 'jailnet0']) add(`network create --bridge ${bridge}`, ['network', 'create', 'n2', '--bridge', bridge]);
  for (const mtu of ['-1', '0', '71', '65536', 'abc', '1e3', '1500.5']) add(`network create --mtu ${mtu}`, ['network', 'create', 'n2', `--mtu=${mtu}`]);
  for (const subnet of ['10.89.0.5/24', '10.89.0.0/33', 'x', '10.89.70.0/24,10.89.70.128/25', '10.89.60.0/24']) add(`network create --subnet ${subnet}`, ['network', 'create', 'n2', ...subnet.split(',').flatMap((s) => ['--subnet', s])]);
  for (const gateway of ['10.99.0.1', '10.89.80.0', 'x', 'fd00::1']) add(`network create --gateway ${gateway}`, ['network', 'create', 'n2', '--subnet', '10.89.80.0/24', '--gateway', gateway]);
  add('network create --ip-range outside', ['network', 'create', 'n2', '--subnet', '10.89.81.0/24', '--ip-range', '10.89.82.0/25']);
  for (const spec of ['80', '0:80', '80:0', '65536:80', 'a:80', '1.2.3:80:80', '80:80/icmp', '[zz]:80:80']) add(`pod create -p ${spec}`, ['pod', 'create', 'p2', '--network', 'net1', '-p', spec]);
  for (const mac of ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '00:00:00:00:00:00', 'x']) add(`pod create --mac ${mac}`, ['pod', 'create', 'p2', '--network', 'net1', '--mac', mac]);
  for (const ip of ['x', '10.89.60.300', '::zz', '']) add(`pod create --ip ${JSON.stringify(ip)}`, ['pod', 'create', 'p2', '--network', 'net1', '--ip', ip]);
  add('pod create --mac ""', ['pod', 'create', 'p2', '--network', 'net1', '--mac', '']);
  add('pod create -p 8088:80 -p 8088:81', ['pod', 'create', 'p2', '--network', 'net1', '-p', '8088:80', '-p', '8088:81']);
  add('network create --bridge ""', ['network', 'create', 'n2', '--bridge', '']);
  add('network create --ip-range ""', ['network', 'create', 'n2', '--subnet', '10.89.80.0/24', '--ip-range', '']);
  add('network create --gateway at the broadcast address', ['network', 'create', 'n2', '--subnet', '10.89.80.0/24', '--gateway', '10.89.80.255']);
  for (const mode of ['bogus', 'container:', 'container:../x', 'container:nosuch']) add(`pod create --mode ${mode}`, ['pod', 'create', 'p2', '--mode', mode]);
  add('pod create --restart sometimes', ['pod', 'create', 'p2', '--network', 'net1', '--restart', 'sometimes']);
  add('container add --path relative', ['container', 'add', 'ok', 'c9', '--path', 'relative']);
  add('container add --path /x/../etc', ['container', 'add', 'ok', 'c9', '--path', '/x/../etc']);
  for (const [flag, value] of [['--container-id', 'a/b'], ['--container-id', 'x'.repeat(300)], ['--ifname', 'x'.repeat(16)], ['--ifname', '-x'], ['--netns', '../etc'], ['--netns', 'a b'], ['--args', '=x'], ['--runtime-config', '{'], ['--runtime-config', '[]']] as const) {
    add(`cni add ${flag} ${JSON.stringify(value)}`, ['cni', 'add', '--network', 'podman', '--container-id', 'ok1', '--netns', 'ctr1', flag, value]);
  }
  add('cni add of an unknown network', ['cni', 'add', '--network', 'nosuch', '--container-id', 'ok1', '--netns', 'ctr1']);
  add('an unknown option', ['pod', 'ls', '--bogus'], 2);
  add('an unknown command', ['bogus'], 2);
  add('--host bogus', ['--host', 'bogus', 'pod', 'ls'], 2);
  add('JAILNET_HOST=bogus', ['host', 'jails'], 1, { JAILNET_HOST: 'bogus' });
  return cases;
}

const BAD_CONFIGS = [
  '[runtime]\nstate_dir = relative\n',
  '[runtime]\nbogus = 1\n',
  '[nosuch]\n',
  'state_dir = /x\n',
  '[runtime]\nthis is not ini\n',
  '[runtime]\nstate_dir = /a\nstate_dir = /b\n',
  '[runtime]\nteardown_timeout = -5\n',
  '[runtime]\nplugin_timeout = soon\n',
  '[runtime]\ntool_path = sbin\n',
  '[network]\ndisable_new_netns = true\n[netmon]\nenable_netmon = true\n',
  '[network]\ninternetworking_model = bogus\n',
  '[runtime]\nstate_dir =\n',
  '[runtime]\nstate_dir = /var/db/jailnet\0x\n',
  '[runtime]\0\nstate_dir = /x\n',
];

/** A broken jailnet.conf under the plugins, and an unknown host driver. */
async function configCases(lab: PodLab): Promise<PluginCase[]> {
  const cases: PluginCase[] = [];
  for (const [index, text] of BAD_CONFIGS.entries()) {
    const file = path.join(lab.dir, `plugin-bad-${index}.conf`);
    await fs.writeFile(file, text);
    for (const plugin of ['bridge', 'portmap', 'firewall'] as const) {
      const stdin = json({ ...entryOf(lab, plugin), ...(plugin === 'portmap' ? { runtimeConfig: { portMappings: [{ hostPort: 9090, containerPort: 90 }] } } : {}) });
      cases.push({ what: `${plugin} under jailnet.conf ${JSON.stringify(text)}`, plugin, env: baseEnv(), stdin, processEnv: { JAILNET_CONFIG: file }, code: 7 });
    }
  }
  for (const plugin of ['bridge', 'tuning', 'loopback'] as const) {
    cases.push({ what: `${plugin} with JAILNET_HOST=bogus`, plugin, env: baseEnv(), stdin: json({ ...entryOf(lab, plugin), ...(plugin === 'tuning' ? { mtu: 1400 } : {}) }), processEnv: { JAILNET_HOST: 'bogus' }, code: 50 });
  }
  return cases;
}

t.test('the CLI: every bad input is refused in one line, with a non-zero exit, and changes nothing', async (t) => {
  const lab = await busyLab(t);
  const conf = path.join(lab.dir, 'jailnet.conf');
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.60.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'ok', '--network', 'net1'])).code, 0);
  const cases = cliCases(lab, conf);
  for (const [index, text] of BAD_CONFIGS.entries()) {
    const file = path.join(lab.dir, `bad-${index}.conf`);
    await fs.writeFile(file, text);
    for (const command of [['pod', 'ls'], ['gc'], ['pod', 'create', 'p3', '--mode', 'none']]) {
      cases.push({ what: `${command.join(' ')} with config ${JSON.stringify(text)}`, args: ['--config', file, ...command], exit: 2 });
    }
  }
  const before = await stateOf(lab);
  const wrong: string[] = [];
  for (const c of cases) {
    let stdout = '';
    let stderr = '';
    const saved = { ...process.env };
    Object.assign(process.env, c.env ?? {});
    const exit = await main(['node', 'jailnet', ...c.args], { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) }).finally(() => {
      for (const key of Object.keys(c.env ?? {})) delete process.env[key];
      Object.assign(process.env, saved);
    });
    figures.tried++;
    const lines = stderr.split('\n').filter(Boolean);
    const right = exit === c.exit && lines.length === 1 && /^jailnet: \S/.test(lines[0] as string);
    if (right) figures.rightKind++;
    else wrong.push(`${c.what}: exit ${exit}, stderr ${JSON.stringify(stderr.slice(0, 300))}`);
    if (/\n\s+at \S/.test(stderr)) figures.stackTraces++;
    if ((await stateOf(lab)) !== before) {
      figures.changes++;
      wrong.push(`${c.what}: changed the state`);
      break;
    }
  }
  t.ok(cases.length >= 150, `${cases.length} CLI cases`);
  t.same(wrong, [], 'every case: one line on stderr, the right exit code, no change');
});
