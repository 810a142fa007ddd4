// Mixed chains with Debian's reference plugins (/usr/lib/cni): each side consumes the
// other's results and state, on a real kernel.
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { PLUGIN_DIR, REFERENCE_PLUGIN_DIR, jailnet } from './helpers/run.js';
import { fetchFrom, hostAddress, hostLinks, jailnetNft, linkRemove, missingPrerequisite, netnsAdd, netnsRemove, scratchDir, serveHttp, sh } from './helpers/linux.js';

const missing = missingPrerequisite(['iptables', `${REFERENCE_PLUGIN_DIR}/portmap`]);
if (missing) {
  t.fail(`cannot run the mixed-chain tests: ${missing}`);
} else {
  const dir = scratchDir('mixed');

  /** A plugin directory where each type comes from jailnet or from the reference plugins. */
  function pluginDir(name: string, origin: Record<string, 'jailnet' | 'reference'>): string {
    const target = path.join(dir, name);
    mkdirSync(target, { recursive: true });
    for (const [type, from] of Object.entries(origin)) symlinkSync(path.join(from === 'jailnet' ? PLUGIN_DIR : REFERENCE_PLUGIN_DIR, type), path.join(target, type));
    return target;
  }

  function setup(name: string, origin: Record<string, 'jailnet' | 'reference'>, list: object) {
    const netd = path.join(dir, name, 'net.d');
    mkdirSync(netd, { recursive: true });
    writeFileSync(path.join(netd, `${name}.conflist`), JSON.stringify(list));
    const conf = path.join(dir, name, 'jailnet.conf');
    const state = path.join(dir, name, 'state');
    writeFileSync(conf, `[runtime]\nstate_dir = ${state}\ncni_config_dir = ${netd}\ncni_plugin_dirs = ${pluginDir(`${name}/plugins`, origin)}\n`);
    return { conf, state, cli: (...args: string[]) => jailnet(['--config', conf, ...args]) };
  }

  const bridgeConf = (bridge: string, subnet: string, leases: string) => ({
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', dataDir: leases, ranges: [[{ subnet: `${subnet}.0/24`, gateway: `${subnet}.1` }]], routes: [{ dst: '0.0.0.0/0' }] },
  });

  t.test('jailnet bridge + reference portmap, firewall and tuning', async (t) => {
    const ns = 'jnt-mix-a';
    const leases = path.join(dir, 'leases-a');
    const PORT = 18471;
    t.teardown(() => {
      netnsRemove(ns);
      linkRemove('jnt-mix0');
    });
    const { cli, state } = setup('mixa', { bridge: 'jailnet', 'host-local': 'jailnet', portmap: 'reference', firewall: 'reference', tuning: 'reference' }, {
      cniVersion: '1.0.0',
      name: 'mixa',
      plugins: [
        bridgeConf('jnt-mix0', '10.244.0', leases),
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'firewall' },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.arp_filter': '1' } },
      ],
    });
    const netns = netnsAdd(ns);
    const ports = JSON.stringify({ portMappings: [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' }] });
    const add = await cli('cni', 'add', '--network', 'mixa', '--container-id', 'mix-a', '--netns', netns, '--runtime-config', ports);
    t.equal(add.code, 0, add.stderr);
    const address = add.json.ips[0].address.split('/')[0];
    t.equal(sh('nsenter', [`--net=${netns}`, '--', 'sysctl', '-n', 'net.ipv4.conf.eth0.arp_filter']).stdout.trim(), '1', 'reference tuning set its sysctl on jailnet\'s eth0');
    t.match(sh('iptables', ['-S', 'CNI-FORWARD']).stdout, address, 'reference firewall allowed the pod');
    serveHttp(netns, 'mixed a\n');
    t.same(fetchFrom(undefined, `http://${hostAddress()}:${PORT}/`), { ok: true, body: 'mixed a\n' }, 'reference portmap publishes to jailnet\'s pod');
    const del = await cli('cni', 'del', '--network', 'mixa', '--container-id', 'mix-a', '--netns', netns);
    t.equal(del.code, 0, del.stderr);
    t.notMatch(sh('iptables-save', []).stdout, address, 'the reference plugins removed their rules');
    t.same(readdirSync(path.join(leases, 'mixa')).sort(), ['last_reserved_ip.0', 'lock'], 'no lease is left');
    t.same(hostLinks().filter((l) => l.master === 'jnt-mix0'), [], 'no veth is left');
    t.same(readdirSync(path.join(state, 'cni', 'results')), [], 'no cache file is left');
  });

  t.test('reference bridge + jailnet portmap', async (t) => {
    const ns = 'jnt-mix-b';
    const leases = path.join(dir, 'leases-b');
    const PORT = 18472;
    t.teardown(() => {
      netnsRemove(ns);
      linkRemove('jnt-mix1');
    });
    const { cli } = setup('mixb', { bridge: 'reference', 'host-local': 'reference', portmap: 'jailnet' }, {
      cniVersion: '1.0.0',
      name: 'mixb',
      plugins: [bridgeConf('jnt-mix1', '10.244.1', leases), { type: 'portmap', capabilities: { portMappings: true } }],
    });
    const netns = netnsAdd(ns);
    const ports = JSON.stringify({ portMappings: [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' }] });
    const add = await cli('cni', 'add', '--network', 'mixb', '--container-id', 'mix-b', '--netns', netns, '--runtime-config', ports);
    t.equal(add.code, 0, add.stderr);
    const address = add.json.ips[0].address.split('/')[0];
    t.match(jailnetNft().text, `dnat ip to ${address}:80`, 'jailnet published the reference bridge\'s pod');
    serveHttp(netns, 'mixed b\n');
    t.same(fetchFrom(undefined, `http://${hostAddress()}:${PORT}/`), { ok: true, body: 'mixed b\n' }, "via the host's address");
    t.same(fetchFrom(undefined, `http://127.0.0.1:${PORT}/`), { ok: true, body: 'mixed b\n' }, 'via 127.0.0.1');
    t.same(fetchFrom(netns, `http://${hostAddress()}:${PORT}/`), { ok: true, body: 'mixed b\n' }, 'from the pod itself');
    const del = await cli('cni', 'del', '--network', 'mixb', '--container-id', 'mix-b', '--netns', netns);
    t.equal(del.code, 0, del.stderr);
    t.notMatch(jailnetNft().text, address, 'no nft rule is left');
    t.same(readdirSync(path.join(leases, 'mixb')).sort(), ['last_reserved_ip.0', 'lock'], 'no lease is left');
  });
}
