// Real podman 4.3.1 with network_backend = "netavark" and jailnet's executable first in its
// helper directories, inside a private mount and network namespace (helpers/private-host.ts):
// network create; run -d with -p and a request to the published port from the host side; a
// second container on two networks; the two resolving each other by name through aardvark-dns;
// network connect and disconnect; stop, rm, network rm. Each step's effect is checked on the
// host (interfaces, addresses, routes, nft, aardvark's files), and nothing is left at the end.
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { busyboxPath, missingPrerequisite, scratchDir } from './helpers/linux.js';
import { NETAVARK } from './helpers/netavark.js';
import { containersConf } from './helpers/podman-cni.js';
import { privateHost, type PrivateHost } from './fixtures/private-host.mjs';
import { FETCH } from './helpers/linux.js';

t.setTimeout(600_000);

const AARDVARK = '/usr/lib/podman/aardvark-dns';
const missing = missingPrerequisite(['podman', 'runc', 'unshare']) ?? (process.platform === 'linux' && !(await import('node:fs')).existsSync(AARDVARK) ? `${AARDVARK} is missing (install.sh installs aardvark-dns)` : undefined);

function podmanLab() {
  const dir = scratchDir('netavark-podman');
  const rootfs = path.join(dir, 'rootfs');
  const helpers = path.join(dir, 'helpers');
  for (const d of [path.join(rootfs, 'bin'), path.join(rootfs, 'www'), path.join(rootfs, 'etc'), helpers]) mkdirSync(d, { recursive: true });
  copyFileSync(busyboxPath(), path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'httpd', 'ip', 'ping', 'true', 'sleep', 'nslookup', 'cat']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(rootfs, 'www', 'index.html'), 'hello through netavark\n');
  // jailnet's netavark first; Debian's aardvark-dns beside it (podman looks for both there).
  symlinkSync(NETAVARK, path.join(helpers, 'netavark'));
  symlinkSync(AARDVARK, path.join(helpers, 'aardvark-dns'));
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, containersConf(['network_backend = "netavark"', `network_config_dir = "${path.join(dir, 'networks')}"`], { engine: [`helper_binaries_dir = ["${helpers}", "/usr/lib/podman", "/usr/libexec/podman"]`] }));
  return { dir, rootfs, conf };
}

if (missing) {
  t.fail(`cannot run the podman netavark test: ${missing}`);
} else {
  const lab = podmanLab();
  let host: PrivateHost | undefined;
  t.teardown(async () => host?.stop());
  host = await privateHost(lab.conf);
  const h = host;
  const env = { PATH: process.env.PATH };
  const podman = (...args: string[]) => h.run(['podman', ...args], env);
  const inHost = (...argv: string[]) => h.run(argv, env).stdout;
  const fetchInHost = (url: string) => h.run([process.execPath, FETCH, url], env, 15_000);
  const ctr = (name: string, ...argv: string[]) => podman('exec', name, ...argv);

  t.test('podman runs jailnet as its netavark', async (t) => {
    t.equal(podman('info', '--format', '{{.Host.NetworkBackend}}').stdout.trim(), 'netavark');
    for (const [name, subnet] of [['jnta', '10.247.1.0/24'], ['jntb', '10.247.2.0/24'], ['jntc', '10.247.3.0/24']]) {
      const created = podman('network', 'create', '--subnet', subnet as string, name as string);
      t.equal(created.code, 0, created.stderr);
    }
    const inspect = JSON.parse(podman('network', 'inspect', 'jnta').stdout)[0];
    t.match(inspect, { driver: 'bridge', dns_enabled: true, network_interface: /^podman\d+$/ });
  });

  let bridgeA = '';
  t.test('run -d -p: the published port answers from the host side', async (t) => {
    const run = podman('run', '-d', '--name', 'web', '--network', 'jnta', '--network-alias', 'www', '-p', '18090:80', '--rootfs', lab.rootfs, '/bin/httpd', '-f', '-p', '80', '-h', '/www');
    t.equal(run.code, 0, run.stderr);
    const info = JSON.parse(podman('inspect', 'web').stdout)[0];
    const address = info.NetworkSettings.Networks.jnta.IPAddress;
    t.match(address, /^10\.247\.1\.\d+$/, 'podman shows the address it allocated');
    bridgeA = JSON.parse(podman('network', 'inspect', 'jnta').stdout)[0].network_interface;
    t.match(inHost('ip', '-o', 'addr', 'show', bridgeA), /inet 10\.247\.1\.1\/24/, 'the gateway on the bridge');
    t.match(inHost('nft', 'list', 'table', 'inet', 'jailnet'), /18090/, "jailnet's DNAT for the port");
    let answer = { code: 1, stdout: '', stderr: '' };
    for (let i = 0; i < 30 && answer.code !== 0; i++) {
      answer = fetchInHost('http://10.247.1.1:18090/');
      if (answer.code !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(answer.stdout, 'hello through netavark\n', `the published port answers: ${answer.stderr}`);
    t.match(inHost('cat', `/run/containers/networks/aardvark-dns/jnta`), /^10\.247\.1\.1\n\w{64} 10\.247\.1\.\d+  web,www,\w{12}\n/, "aardvark's file holds the container");
    t.match(ctr('web', 'cat', '/etc/resolv.conf').stdout, /nameserver 10\.247\.1\.1/, 'the gateway is its nameserver');
  });

  t.test('a second container on two networks; names both ways', async (t) => {
    const run = podman('run', '-d', '--name', 'client', '--network', 'jnta,jntb', '--rootfs', lab.rootfs, '/bin/sleep', '300');
    t.equal(run.code, 0, run.stderr);
    // podman 4 names the interfaces in its networks map's order, so which network is eth0 varies
    // from run to run; what must hold is one interface per network, eth0 and eth1, named as asked.
    const addresses = ctr('client', 'ip', '-o', '-4', 'addr').stdout;
    const byInterface = [...addresses.matchAll(/^\d+: (eth\d+)\s+inet (10\.247\.[12])\.\d+\/24/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    t.equal(byInterface.length, 2, `one address on each of two interfaces: ${addresses}`);
    t.same(byInterface.map((line) => line.split(' ')[0]), ['eth0', 'eth1'], 'named eth0 and eth1');
    t.same(byInterface.map((line) => line.split(' ')[1]).sort(), ['10.247.1', '10.247.2'], 'one on each network');
    t.equal(ctr('client', 'ip', 'route').stdout.match(/^default/gm)?.length, 1, 'one default route');
    // podman writes the nameservers in its map's order, so either gateway may come first. aardvark
    // (1.4 to 1.11) answers a bare name by the asker's networks, from either of its gateways, but
    // a name with the search domain only from the listener's own network; glibc falls back from
    // one to the other, busybox's nslookup does not. So each server is asked what it must answer.
    t.match(ctr('client', 'cat', '/etc/resolv.conf').stdout, /(?=[^]*nameserver 10\.247\.1\.1\n)(?=[^]*nameserver 10\.247\.2\.1\n)/, 'both gateways are its nameservers');
    for (const server of ['10.247.1.1', '10.247.2.1']) {
      t.match(ctr('client', 'nslookup', 'web.', server).stdout, /Address: 10\.247\.1\.\d+/, `client resolves web by name through ${server}`);
      t.match(ctr('client', 'nslookup', 'www.', server).stdout, /Address: 10\.247\.1\.\d+/, `and by alias through ${server}`);
    }
    t.match(ctr('client', 'nslookup', 'web.dns.podman', '10.247.1.1').stdout, /Address: 10\.247\.1\.\d+/, 'and with the search domain through its network');
    t.match(ctr('web', 'nslookup', 'client').stdout, /Address: 10\.247\.1\.\d+/, 'web resolves client');
    t.match(ctr('client', 'sh', '-c', 'busybox wget -q -O - http://web/').stdout, /hello through netavark/, 'client fetches web by name');
  });

  t.test('network connect and disconnect', async (t) => {
    const connect = podman('network', 'connect', 'jntc', 'client');
    t.equal(connect.code, 0, connect.stderr);
    t.match(ctr('client', 'ip', '-o', '-4', 'addr').stdout, /10\.247\.3\.\d+/, 'the third network joined');
    const disconnect = podman('network', 'disconnect', 'jntc', 'client');
    t.equal(disconnect.code, 0, disconnect.stderr);
    t.notMatch(ctr('client', 'ip', '-o', '-4', 'addr').stdout, /10\.247\.3\./, 'and left');
    t.match(ctr('client', 'ip', '-o', '-4', 'addr').stdout, /10\.247\.2\./, 'the others stay');
    const bridges = JSON.parse(inHost('ip', '-j', 'link', 'show', 'type', 'bridge')) as Array<{ ifname: string }>;
    t.equal(bridges.length, 2, 'the third network bridge is gone with its last container');
  });

  t.test('stop, rm, network rm: nothing left', async (t) => {
    for (const name of ['client', 'web']) {
      t.equal(podman('stop', '-t', '0', name).code, 0, `stop ${name}`);
      t.equal(podman('rm', name).code, 0, `rm ${name}`);
    }
    for (const name of ['jnta', 'jntb', 'jntc']) t.equal(podman('network', 'rm', name).code, 0, `network rm ${name}`);
    const links = (JSON.parse(inHost('ip', '-j', 'link', 'show')) as Array<{ ifname: string }>).map((l) => l.ifname);
    t.same(links, ['lo'], 'no bridge or veth left');
    t.equal(inHost('nft', 'list', 'tables').trim(), '', 'no nft table left');
    t.equal(inHost('ls', '-A', '/run/containers/networks/aardvark-dns').trim(), '', 'no aardvark file left');
    t.equal(inHost('ls', '-A', '/var/lib/jailnet/attachments/bridge').trim(), '', 'no jailnet record left');
  });
}
