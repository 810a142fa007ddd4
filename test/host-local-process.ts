// The host-local executable driven as a process, for every supported spec version.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { PLUGIN_DIR, callPlugin } from './helpers/run.js';

const HOST_LOCAL = path.join(PLUGIN_DIR, 'host-local');
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
const before = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true }) < 0;

function config(version: string, dataDir: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: version,
    name: 'proc',
    type: 'bridge',
    ipam: {
      type: 'host-local',
      dataDir,
      ranges: [[{ subnet: '10.33.0.0/24', gateway: '10.33.0.1' }], [{ subnet: 'fd33::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd33::1' }],
    },
    ...extra,
  };
}

const attach = (command: string, containerId = 'ctr1', ifname = 'eth0') => ({
  command,
  containerId,
  netns: '/run/netns/proc',
  ifname,
  path: PLUGIN_DIR,
});

for (const version of VERSIONS) {
  t.test(`spec ${version}`, async (t) => {
    const dataDir = t.testdir();
    const leaseDir = path.join(dataDir, 'proc');
    const conf = config(version, dataDir);

    const add = await callPlugin(HOST_LOCAL, attach('ADD'), conf);
    t.equal(add.code, 0, `ADD exits 0: ${add.stdout}`);
    t.equal(add.json.cniVersion, version, 'result is written in the config version');
    const expectedIPs = [
      { address: '10.33.0.2/24', gateway: '10.33.0.1' },
      { address: 'fd33::2/64', gateway: 'fd33::1' },
    ];
    if (before(version, '1.0.0')) {
      t.same(add.json.ips, [
        { version: '4', ...expectedIPs[0] },
        { version: '6', ...expectedIPs[1] },
      ], 'pre-1.0 results carry ips[].version');
    } else {
      t.same(add.json.ips, expectedIPs, '1.x results carry no ips[].version');
      t.notOk(add.json.ips.some((ip: Record<string, unknown>) => 'version' in ip));
    }
    t.same(add.json.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd33::1' }]);
    t.same(add.json.dns, {});
    t.equal(await fs.readFile(path.join(leaseDir, '10.33.0.2'), 'utf8'), 'ctr1\r\neth0');
    t.equal(await fs.readFile(path.join(leaseDir, 'fd33::2'), 'utf8'), 'ctr1\r\neth0');

    const check = await callPlugin(HOST_LOCAL, attach('CHECK'), { ...conf, prevResult: add.json });
    if (before(version, '0.4.0')) {
      t.equal(check.code, 1, 'CHECK is refused below 0.4.0');
      t.equal(check.json.code, 1);
    } else {
      t.equal(check.code, 0, `CHECK passes: ${check.stdout}`);
      t.equal(check.stdout, '', 'CHECK prints nothing on success');
      const unknown = await callPlugin(HOST_LOCAL, attach('CHECK', 'ctr-unknown'), { ...conf, prevResult: add.json });
      t.equal(unknown.code, 1, 'CHECK of an attachment without lease fails');
      t.match(unknown.json.msg, /Failed to find address/);
    }

    const del = await callPlugin(HOST_LOCAL, attach('DEL'), { ...conf, prevResult: add.json });
    t.equal(del.code, 0, `DEL exits 0: ${del.stdout}`);
    t.equal(del.stdout, '', 'DEL prints nothing');
    const again = await callPlugin(HOST_LOCAL, { ...attach('DEL'), netns: undefined }, conf);
    t.equal(again.code, 0, 'DEL again, without prevResult and netns, succeeds');
    t.same(Object.keys(await snapshotDir(leaseDir)), ['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);

    const versionCall = await callPlugin(HOST_LOCAL, { command: 'VERSION' }, { cniVersion: version });
    t.equal(versionCall.code, 0);
    t.same(versionCall.json, { cniVersion: '1.1.0', supportedVersions: VERSIONS });

    // GC keeps the attachments it is told are valid and releases the rest.
    await callPlugin(HOST_LOCAL, attach('ADD', 'keep'), conf);
    await callPlugin(HOST_LOCAL, attach('ADD', 'stale'), conf);
    const gcConf = { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] };
    const gc = await callPlugin(HOST_LOCAL, { command: 'GC', path: PLUGIN_DIR }, gcConf);
    const status = await callPlugin(HOST_LOCAL, { command: 'STATUS', path: PLUGIN_DIR }, conf);
    const leases = Object.keys(await snapshotDir(leaseDir)).filter((n) => /^\d|:/.test(n));
    if (before(version, '1.1.0')) {
      t.equal(gc.code, 1, 'GC is refused below 1.1.0');
      t.equal(gc.json.code, 1);
      t.equal(status.code, 1, 'STATUS is refused below 1.1.0');
      t.equal(status.json.code, 1);
      t.equal(leases.length, 4, 'a refused GC releases nothing');
    } else {
      t.equal(gc.code, 0, `GC exits 0: ${gc.stdout}`);
      t.same(leases.sort(), ['10.33.0.3', 'fd33::3'], 'GC released only the attachment not named valid');
      t.equal(status.code, 0, `STATUS ready: ${status.stdout}`);
    }
  });
}

t.test('errors carry the right code and change nothing', async (t) => {
  const dataDir = t.testdir();
  const conf = config('1.0.0', dataDir);
  const HL = HOST_LOCAL;

  const malformed = await callPlugin(HL, attach('ADD'), '{nope');
  t.equal(malformed.code, 1);
  t.equal(malformed.json.code, 6, 'malformed JSON is code 6');

  const unknownVersion = await callPlugin(HL, attach('ADD'), { ...conf, cniVersion: '9.9.9' });
  t.equal(unknownVersion.json.code, 1, 'unknown version is code 1');
  t.match(unknownVersion.json.details, /9\.9\.9/);

  const noVersion = await callPlugin(HL, attach('ADD'), { ...conf, cniVersion: undefined });
  t.equal(noVersion.json.code, 1, 'a config without version is code 1');

  const missingEnv = await callPlugin(HL, { command: 'ADD', ifname: 'eth0', path: PLUGIN_DIR }, conf);
  t.equal(missingEnv.json.code, 4, 'missing environment is code 4');
  t.match(missingEnv.json.msg, /CNI_CONTAINERID/);
  t.match(missingEnv.json.msg, /CNI_NETNS/);

  const noCommand = await callPlugin(HL, { command: '' }, conf);
  t.equal(noCommand.json.code, 4, 'missing CNI_COMMAND is code 4');
  const badCommand = await callPlugin(HL, { ...attach('FROB') }, conf);
  t.equal(badCommand.json.code, 4, 'unknown CNI_COMMAND is code 4');

  const badId = await callPlugin(HL, attach('ADD', 'bad/id'), conf);
  t.equal(badId.json.code, 4, 'invalid container ID is code 4');
  const badIfname = await callPlugin(HL, attach('ADD', 'ctr', 'much-too-long-ifname'), conf);
  t.equal(badIfname.json.code, 4, 'an interface name over 15 characters is code 4');
  const badName = await callPlugin(HL, attach('ADD'), { ...conf, name: '../etc' });
  t.equal(badName.json.code, 7, 'an invalid network name is code 7');

  const noIpam = await callPlugin(HL, attach('ADD'), { cniVersion: '1.0.0', name: 'proc', type: 'x' });
  t.equal(noIpam.json.code, 7, 'a config without ipam is code 7');
  const hostBits = await callPlugin(HL, attach('ADD'), {
    ...conf,
    ipam: { ...conf.ipam, ranges: [[{ subnet: '10.33.0.5/24' }]] },
  });
  t.equal(hostBits.json.code, 7, 'a subnet with host bits set is code 7');
  t.match(hostBits.json.details, /network address is 10\.33\.0\.0/);
  const tooSmall = await callPlugin(HL, attach('ADD'), { ...conf, ipam: { ...conf.ipam, ranges: [[{ subnet: '10.1.1.0/31' }]] } });
  t.match(tooSmall.json.details, /too small to allocate from/);
  const badArgs = await callPlugin(HL, { ...attach('ADD'), args: 'FOO=bar' }, conf);
  t.equal(badArgs.json.code, 4, 'unknown CNI_ARGS without IgnoreUnknown is code 4');

  for (const result of [malformed, unknownVersion, missingEnv, badId, badIfname, badName, noIpam, hostBits, badArgs]) {
    t.equal(result.code, 1, 'every error exits non-zero');
    t.equal(typeof result.json.msg, 'string', 'every error is CNI error JSON on stdout');
  }
  const leaseDir = path.join(dataDir, 'proc');
  const left = Object.keys(await snapshotDir(leaseDir)).filter((n) => n !== 'lock');
  t.same(left, [], 'no error left a lease or a half-written file');
});

t.test('requested addresses', async (t) => {
  const dataDir = t.testdir();
  const conf = config('0.4.0', dataDir);

  const viaEnv = await callPlugin(HOST_LOCAL, { ...attach('ADD', 'a'), args: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.33.0.50' }, conf);
  t.equal(viaEnv.code, 0, viaEnv.stdout);
  t.equal(viaEnv.json.ips[0].address, '10.33.0.50/24', 'CNI_ARGS IP= is honoured');

  const viaArgs = await callPlugin(HOST_LOCAL, attach('ADD', 'b'), { ...conf, args: { cni: { ips: ['10.33.0.60', 'fd33::60'] } } });
  t.same(viaArgs.json.ips.map((ip: { address: string }) => ip.address), ['10.33.0.60/24', 'fd33::60/64'], 'args.cni.ips');

  const viaRuntime = await callPlugin(HOST_LOCAL, attach('ADD', 'c'), { ...conf, runtimeConfig: { ips: ['10.33.0.70/24'] } });
  t.equal(viaRuntime.json.ips[0].address, '10.33.0.70/24', 'runtimeConfig.ips');

  const taken = await callPlugin(HOST_LOCAL, { ...attach('ADD', 'd'), args: 'IP=10.33.0.50' }, conf);
  t.equal(taken.code, 1, 'a taken static address is an error');
  t.match(taken.json.msg, /10\.33\.0\.50 is not available/);
  const gateway = await callPlugin(HOST_LOCAL, { ...attach('ADD', 'e'), args: 'IP=10.33.0.1' }, conf);
  t.match(gateway.json.msg, /is subnet's gateway/);
  const outside = await callPlugin(HOST_LOCAL, { ...attach('ADD', 'f'), args: 'IP=192.0.2.9' }, conf);
  t.match(outside.json.msg, /failed to allocate all requested IPs: 192\.0\.2\.9/);

  const names = Object.keys(await snapshotDir(path.join(dataDir, 'proc'))).filter((n) => /^\d|:/.test(n)).sort();
  // The IPv6 range set is allocated round-robin after the last reserved address, fd33::60.
  t.same(names, ['10.33.0.50', '10.33.0.60', '10.33.0.70', 'fd33::2', 'fd33::60', 'fd33::61'],
    'failed requests released what they had allocated for other range sets');
});

t.test('resolvConf fills the DNS of the result', async (t) => {
  const dir = t.testdir({ 'resolv.conf': '# local\nnameserver 192.0.2.53\nnameserver 2001:db8::53\ndomain pods.example\nsearch a.example b.example\noptions ndots:2 edns0\n' });
  const conf = { ...config('1.0.0', dir), ipam: { ...config('1.0.0', dir).ipam, resolvConf: path.join(dir, 'resolv.conf') } };
  const add = await callPlugin(HOST_LOCAL, attach('ADD'), conf);
  t.same(add.json.dns, {
    nameservers: ['192.0.2.53', '2001:db8::53'],
    domain: 'pods.example',
    search: ['a.example', 'b.example'],
    options: ['ndots:2', 'edns0'],
  });
  const missing = await callPlugin(HOST_LOCAL, attach('ADD', 'other'), { ...conf, ipam: { ...conf.ipam, resolvConf: path.join(dir, 'nope') } });
  t.equal(missing.json.code, 5, 'an unreadable resolvConf is an I/O error');
  t.notOk(Object.keys(await snapshotDir(path.join(dir, 'proc'))).some((n) => n.startsWith('10.33.0.3')), 'and leases nothing');
});

t.test('a lock left by a crashed plugin does not block the network', async (t) => {
  const dataDir = t.testdir({ proc: { lock: '', 'lock.owner': '2147483646\n' } });
  const add = await callPlugin(HOST_LOCAL, attach('ADD'), config('1.0.0', dataDir));
  t.equal(add.code, 0, `ADD succeeds: ${add.stdout}`);
  t.same(Object.keys(await snapshotDir(path.join(dataDir, 'proc'))).filter((n) => n.startsWith('lock')), ['lock'],
    'the stale owner file was removed and ours released');
});

t.test('exhaustion is a clear error', async (t) => {
  const dataDir = t.testdir();
  const conf = { cniVersion: '1.0.0', name: 'tiny', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.44.0.0/30' }]] } };
  const first = await callPlugin(HOST_LOCAL, attach('ADD', 'one'), conf);
  t.equal(first.json.ips[0].address, '10.44.0.2/30', 'a /30 has one address besides the gateway');
  const second = await callPlugin(HOST_LOCAL, attach('ADD', 'two'), conf);
  t.equal(second.code, 1);
  t.equal(second.json.code, 110);
  t.match(second.json.msg, /no IP addresses available in range set: 10\.44\.0\.1-10\.44\.0\.2/);
  const status = await callPlugin(HOST_LOCAL, { command: 'STATUS', path: PLUGIN_DIR }, { ...conf, cniVersion: '1.1.0' });
  t.equal(status.json.code, 50, 'STATUS reports the exhausted network as not available');
  const dup = await callPlugin(HOST_LOCAL, attach('ADD', 'one'), conf);
  t.match(dup.json.msg, /duplicate allocation is not allowed/, 'a second ADD of one attachment is refused');
});
