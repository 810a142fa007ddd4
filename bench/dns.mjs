// Container names' cost (issue 31's goals), on this Linux host for real, with Debian's
// aardvark-dns 1.4, through the shims with jailnetd up. Everything runs in a private host
// (test/fixtures/private-host.mjs: a mount and network namespace of its own), so the bridges,
// the pods' namespaces and aardvark-dns on their gateways exist only there:
//
// 1. podman's default chain ADD on a network without names beside the same chain with the
//    dnsname plugin on a network with them, interleaved: what names add to an ADD;
// 2. from that ADD's return until aardvark answers the new name (asked from the gateway every
//    2 ms; an NXDOMAIN before the reload is asked again); and the dnsname ADD alone through
//    its shim beside tuning's, to tell the plugin's own cost from a further plugin's;
// 3. ADD and DEL of container #10, #100 and #1000 on the named network (bench/scale.mjs's
//    checkpoints), with the dnsname ADD alone and the time to resolve the probe's name at each.
//
// `node bench/dns.mjs [rounds] [--write]` (root); BENCH_PODS=N stops part 3 at N containers.
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JAILNET_DIR, WARMUP, call, defaultChain, inBatches, median, ms, root, runChain, scratch, startDaemon, writeResults } from './common.mjs';
import { CHECKPOINTS, probeAtCheckpoints } from './scale.mjs';

const AARDVARK = '/usr/lib/podman/aardvark-dns';
const NAMED = { name: 'jnbdns', bridge: 'jnbdns0', subnet: '10.97.0.0/20', gateway: '10.97.0.1' };
const PLAIN = { name: 'jnbplain', bridge: 'jnbplain0', subnet: '10.97.16.0/20' };
const SOCKET = '/run/jailnet/bench-dns.sock';
/** How long a name may take to resolve before the round counts as a failure. */
const RESOLVE_LIMIT_MS = 5_000;

/** One A query for a single-label name, with this ID. */
function query(name, id) {
  const label = Buffer.from(name);
  const header = Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, Buffer.from([label.length]), label, Buffer.from([0, 0, 1, 0, 1])]);
}

/** ms from now until the gateway's aardvark answers `name` with an address. */
async function timeToResolve(name) {
  const socket = dgram.createSocket('udp4');
  const started = process.hrtime.bigint();
  let id = 0;
  try {
    while (ms(started) < RESOLVE_LIMIT_MS) {
      id = (id + 1) & 0xffff;
      const answered = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 2);
        const onMessage = (message) => {
          if (message.readUInt16BE(0) !== id) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve((message[3] & 0x0f) === 0 && message.readUInt16BE(6) > 0);
        };
        socket.on('message', onMessage);
        socket.send(query(name, id), 53, NAMED.gateway);
      });
      if (answered) return ms(started);
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`${name} did not resolve within ${RESOLVE_LIMIT_MS} ms`);
  } finally {
    socket.close();
  }
}

function namedChain() {
  const list = defaultChain(NAMED.name, NAMED.bridge, NAMED.subnet, '/var/lib/jailnet/bench-leases');
  return { ...list, plugins: [...list.plugins, { type: 'dnsname', domainName: 'dns.podman', capabilities: { aliases: true } }] };
}

/** A pod of the bench: its namespace, and the chain's environment with its name. */
function pod(prefix) {
  const netns = (i) => `${prefix}${i}`;
  return {
    netns,
    env: (i) => ({ JAILNET_SOCKET: SOCKET, CNI_CONTAINERID: `${prefix}-container-${i}`, CNI_NETNS: `/run/netns/${netns(i)}`, CNI_IFNAME: 'eth0', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${prefix}${i}` }),
    prepare: (i) => spawnSync('ip', ['netns', 'add', netns(i)]),
    dispose: (i) => spawnSync('ip', ['netns', 'del', netns(i)]),
  };
}

/** Parts 1 and 2: ADD without and with names, interleaved, and each named ADD's time to resolve. */
async function namesOnAnAdd(rounds) {
  const named = namedChain();
  const plain = defaultChain(PLAIN.name, PLAIN.bridge, PLAIN.subnet, '/var/lib/jailnet/bench-leases');
  const lanes = [
    { key: 'plain', list: plain, pods: pod('jnbp') },
    { key: 'named', list: named, pods: pod('jnbn') },
  ];
  const times = { plain: [], named: [], resolve: [] };
  for (let r = -WARMUP; r < rounds; r++) {
    for (const { key, list, pods } of lanes) {
      const i = r + WARMUP;
      pods.prepare(i);
      const add = await runChain(JAILNET_DIR, list, 'ADD', pods.env(i));
      const resolved = key === 'named' ? await timeToResolve(pods.netns(i)) : undefined;
      await runChain(JAILNET_DIR, list, 'DEL', pods.env(i), { prevResult: add.result });
      pods.dispose(i);
      if (r < 0) continue;
      times[key].push(add.ms);
      if (resolved !== undefined) times.resolve.push(resolved);
    }
  }
  return { plainAdd: median(times.plain), namedAdd: median(times.named), resolve: median(times.resolve), ...(await onePluginAdds(rounds)) };
}

/**
 * Where the chain's difference goes: the dnsname ADD alone through its shim, beside tuning's
 * (a plugin that changes nothing here: what any further plugin of a chain costs), both
 * repeated on one attachment.
 */
async function onePluginAdds(rounds) {
  const list = namedChain();
  const pods = pod('jnbo');
  pods.prepare(0);
  const add = await runChain(JAILNET_DIR, list, 'ADD', pods.env(0));
  const alone = Object.fromEntries(['tuning', 'dnsname'].map((type) => [type, pluginAlone(list, type, add.result, pods.env(0), rounds)]));
  await runChain(JAILNET_DIR, list, 'DEL', pods.env(0), { prevResult: add.result });
  pods.dispose(0);
  return { tuningAlone: alone.tuning, dnsnameAlone: alone.dnsname };
}

/** One plugin of the chain called again and again on an attachment through its shim, with the chain's result: its median ADD. */
function pluginAlone(list, type, prevResult, podEnv, rounds) {
  const plugin = list.plugins.find((p) => p.type === type);
  const conf = JSON.stringify({ ...plugin, cniVersion: list.cniVersion, name: list.name, prevResult });
  const env = { ...podEnv, CNI_COMMAND: 'ADD', CNI_PATH: JAILNET_DIR };
  return median(Array.from({ length: WARMUP + rounds }, () => call(path.join(JAILNET_DIR, type), env, conf).ms).slice(WARMUP));
}

const dnsnameAlone = (list, prevResult, podEnv) => pluginAlone(list, 'dnsname', prevResult, podEnv, 9);

/** Part 3: the named network filled to each checkpoint; the probe's ADD, DEL and time to resolve. */
async function namedAtScale(total) {
  const list = namedChain();
  const pods = pod('jnbs');
  const results = new Map();
  const resolveAt = new Map();
  const dnsnameAt = new Map();
  const probe = {
    prepare: pods.prepare,
    dispose: pods.dispose,
    async add(i) {
      const add = await runChain(JAILNET_DIR, list, 'ADD', pods.env(i));
      results.set(i, add.result);
      if (i === 'probe') {
        const at = results.size;
        resolveAt.set(at, [...(resolveAt.get(at) ?? []), await timeToResolve(pods.netns(i))]);
        if (!dnsnameAt.has(at)) dnsnameAt.set(at, dnsnameAlone(list, add.result, pods.env(i)));
      }
      return add;
    },
    async remove(i, prevResult) {
      const del = await runChain(JAILNET_DIR, list, 'DEL', pods.env(i), { prevResult: prevResult ?? results.get(i) });
      results.delete(i);
      return del;
    },
  };
  try {
    const { rows } = await probeAtCheckpoints(probe, total);
    return rows.map((row) => ({ ...row, resolve: median(resolveAt.get(row.pod) ?? [NaN]), dnsname: dnsnameAt.get(row.pod) ?? NaN }));
  } finally {
    const left = [...results.keys()];
    await inBatches(left.length, 4, (n) => probe.remove(left[n]).catch(() => undefined));
  }
}

async function inside(rounds, total) {
  const daemon = await startDaemon(SOCKET);
  try {
    const add = await namesOnAnAdd(rounds);
    const scale = await namedAtScale(total);
    process.stdout.write(`${JSON.stringify({ add, scale })}\n`);
  } finally {
    daemon.kill('SIGTERM');
  }
}

const f = (n) => (Number.isFinite(n) ? n.toFixed(1) : '—');

function report({ add, scale }, rounds) {
  const base = scale.find((r) => r.pod === CHECKPOINTS[0]);
  const last = scale.at(-1);
  const cost = add.namedAdd - add.plainAdd;
  const lines = [
    '| what | ms (median) |',
    '|---|---|',
    `| podman chain ADD, network without names | ${f(add.plainAdd)} |`,
    `| podman chain ADD + dnsname, network with names | ${f(add.namedAdd)} |`,
    `| from that ADD's return until the name resolves | ${f(add.resolve)} |`,
    `| dnsname ADD alone, through its shim | ${f(add.dnsnameAlone)} |`,
    `| tuning ADD alone, through its shim (what any further plugin costs) | ${f(add.tuningAlone)} |`,
    '',
    '| container # (named network) | ADD ms | DEL ms | ADD / #10 | dnsname ADD alone, ms | name resolves after ADD, ms |',
    '|---|---|---|---|---|---|',
    ...scale.map((r) => `| ${r.pod} | ${f(r.ADD)} | ${f(r.DEL)} | ${(r.ADD / base.ADD).toFixed(2)} | ${f(r.dnsname)} | ${f(r.resolve)} |`),
    '',
    '| goal | measured | met |',
    '|---|---|---|',
    `| a new container's name resolves within 100 ms of its ADD returning (median) | ${f(add.resolve)} ms | ${add.resolve <= 100 ? 'yes' : 'no'} |`,
    `| names add ≤ 5 ms to an ADD through jailnetd | ${f(cost)} ms | ${cost <= 5 ? 'yes' : 'no'} |`,
    `| with 1,000 named containers, ADD #1000 ≤ 1.2× ADD #10 | ${last.pod === 1000 ? `${(last.ADD / base.ADD).toFixed(2)}×` : `not reached (stopped at #${last.pod})`} | ${last.pod === 1000 ? (last.ADD / base.ADD <= 1.2 ? 'yes' : 'no') : '—'} |`,
  ];
  return { when: `${rounds} rounds, Node ${process.version}, aardvark-dns 1.4 (Debian), jailnetd up.`, text: lines.join('\n') };
}

async function outside() {
  const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 15);
  const total = Number(process.env.BENCH_PODS ?? 1000);
  if (spawnSync(AARDVARK, ['--version']).status !== 0) throw new Error(`${AARDVARK} is missing: scripts/install.sh installs aardvark-dns`);
  const { privateHost } = await import(path.join(root, 'test', 'fixtures', 'private-host.mjs'));
  const dir = path.join(scratch, 'dns');
  mkdirSync(dir);
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, '');
  // jailnet's state in the private host's own /var/lib/jailnet, whatever this machine's jailnet.conf says.
  const jailnetConf = path.join(dir, 'jailnet.conf');
  writeFileSync(jailnetConf, `[runtime]\nstate_dir = /var/lib/jailnet\ncni_plugin_dirs = ${JAILNET_DIR}\n`);
  const host = await privateHost(conf);
  try {
    const env = { PATH: process.env.PATH, JAILNET_CONFIG: jailnetConf };
    const run = host.run([process.execPath, path.join(root, 'bench', 'dns.mjs'), '--inside', String(rounds), String(total)], env, 3_600_000);
    if (run.code !== 0) throw new Error(`the bench inside the private host failed: ${run.stderr}`);
    const { when, text } = report(JSON.parse(run.stdout.trim().split('\n').at(-1)), rounds);
    process.stdout.write(`${text}\n`);
    if (process.argv.includes('--write')) writeResults('dns', when, text);
  } finally {
    await host.stop();
  }
}

if (process.argv[2] === '--inside') await inside(Number(process.argv[3]), Number(process.argv[4]));
else await outside();
