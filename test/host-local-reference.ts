// Side by side with the reference host-local (Debian's containernetworking-plugins):
// the same calls on the same config leave byte-identical lease directories, and
// leases carry over from one implementation to the other.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { PLUGIN_DIR, REFERENCE_PLUGIN_DIR, callPlugin } from './helpers/run.js';

const JAILNET = path.join(PLUGIN_DIR, 'host-local');
const REFERENCE = path.join(REFERENCE_PLUGIN_DIR, 'host-local');

try {
  accessSync(REFERENCE, constants.X_OK);
} catch {
  // Missing tools fail loudly: .ci/run installs containernetworking-plugins.
  t.fail(`reference plugin ${REFERENCE} is missing: apt-get install containernetworking-plugins`);
}

type Step = { command: 'ADD' | 'DEL'; id: string; ifname?: string; args?: string };

// A /29 with a gateway inside the range, and an IPv6 range set beside it: eight ADDs
// with DELs in between run through wrap-around, gateway skipping and requested addresses.
const SEQUENCE: Step[] = [
  { command: 'ADD', id: 'a' },
  { command: 'ADD', id: 'b' },
  { command: 'ADD', id: 'c', args: 'IgnoreUnknown=1;K8S_POD_NAME=c;IP=10.66.0.5' },
  { command: 'ADD', id: 'd' },
  { command: 'DEL', id: 'b' },
  { command: 'ADD', id: 'e' },
  { command: 'ADD', id: 'f' },
  { command: 'ADD', id: 'a', ifname: 'eth1' },
  { command: 'DEL', id: 'a' },
  { command: 'ADD', id: 'g' },
  { command: 'ADD', id: 'h' },
  { command: 'DEL', id: 'nonexistent' },
  { command: 'DEL', id: 'c' },
  { command: 'ADD', id: 'i' },
];

function config(dataDir: string, version: string) {
  return {
    cniVersion: version,
    name: 'side',
    type: 'bridge',
    ipam: {
      type: 'host-local',
      dataDir,
      ranges: [[{ subnet: '10.66.0.0/29', gateway: '10.66.0.3' }], [{ subnet: 'fd66::/125', rangeStart: 'fd66::2' }]],
      routes: [{ dst: '0.0.0.0/0' }],
    },
  };
}

async function play(plugin: string, dataDir: string, version: string, steps: Step[]) {
  const outputs = [];
  for (const step of steps) {
    const result = await callPlugin(
      plugin,
      { command: step.command, containerId: step.id, ifname: step.ifname ?? 'eth0', netns: '/run/netns/x', path: path.dirname(plugin), args: step.args },
      config(dataDir, version),
    );
    outputs.push({ code: result.code, json: result.json });
  }
  return outputs;
}

for (const version of ['0.4.0', '1.0.0']) {
  t.test(`same calls, same lease directory (spec ${version})`, async (t) => {
    const base = t.testdir({ ours: {}, theirs: {} });
    const ours = path.join(base, 'ours');
    const theirs = path.join(base, 'theirs');
    const ourOutputs = await play(JAILNET, ours, version, SEQUENCE);
    const theirOutputs = await play(REFERENCE, theirs, version, SEQUENCE);
    const ourDir = await snapshotDir(path.join(ours, 'side'));
    const theirDir = await snapshotDir(path.join(theirs, 'side'));
    t.ok(Object.keys(theirDir).length > 4, 'the reference plugin ran and left leases');
    t.ok(theirOutputs.some((o) => o.code !== 0), 'the sequence includes a refused ADD (the range runs out)');
    t.same(ourDir, theirDir, 'file names, modes and bytes are identical');
    t.same(
      ourOutputs.map((o) => o.code),
      theirOutputs.map((o) => o.code),
      'every call succeeds or fails alike',
    );
    const successes = (outputs: typeof ourOutputs) => outputs.filter((o) => o.code === 0 && o.json).map((o) => o.json);
    t.same(successes(ourOutputs), successes(theirOutputs), 'the ADD results are the same');
  });
}

t.test('leases carry over between the two implementations', async (t) => {
  const base = t.testdir({ mixed: {}, pure: {} });
  const mixed = path.join(base, 'mixed');
  const pure = path.join(base, 'pure');
  const alternating = SEQUENCE.map((step, i) => ({ step, plugin: i % 2 === 0 ? REFERENCE : JAILNET }));
  for (const { step, plugin } of alternating) await play(plugin, mixed, '1.0.0', [step]);
  await play(REFERENCE, pure, '1.0.0', SEQUENCE);
  t.same(await snapshotDir(path.join(mixed, 'side')), await snapshotDir(path.join(pure, 'side')),
    'alternating plugins on one directory ends where the reference alone ends');
});
