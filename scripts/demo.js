#!/usr/bin/env node
// The main job, for now: a CNI chain run against host-local through `jailnet cni`,
// in a scratch directory: ADD two attachments, CHECK, show the leases, DEL, and prove
// that nothing but host-local's bookkeeping is left.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(path.join(tmpdir(), 'jailnet-demo-'));
const netd = path.join(scratch, 'net.d');
const leases = path.join(scratch, 'networks');
const conf = path.join(scratch, 'jailnet.conf');

mkdirSync(netd, { recursive: true });
writeFileSync(
  path.join(netd, '10-demo.conflist'),
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'demo',
    plugins: [
      {
        type: 'host-local',
        ipam: {
          type: 'host-local',
          dataDir: leases,
          ranges: [[{ subnet: '10.123.0.0/24', gateway: '10.123.0.1' }], [{ subnet: 'fd12:3::/64' }]],
          routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
        },
      },
    ],
  }),
);
writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(scratch, 'state')}\ncni_config_dir = ${netd}\n`);

const jailnet = (...args) => {
  console.log(`$ jailnet ${args.join(' ')}`);
  const out = execFileSync(process.execPath, [path.join(root, 'bin', 'jailnet.js'), '--config', conf, ...args], {
    encoding: 'utf8',
  });
  if (out) process.stdout.write(out);
  return out;
};
const showLeases = () => {
  const dir = path.join(leases, 'demo');
  for (const name of readdirSync(dir).sort()) {
    const text = readFileSync(path.join(dir, name), 'utf8').replace(/\r\n/g, ' / ');
    console.log(`  ${name.padEnd(20)} ${text}`);
  }
};

try {
  jailnet('cni', 'add', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a', '--ifname', 'eth0');
  jailnet('cni', 'add', '--network', 'demo', '--container-id', 'pod-b', '--netns', 'pod-b', '--ifname', 'eth0');
  jailnet('cni', 'check', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a');
  console.log(`leases in ${path.join(leases, 'demo')}:`);
  showLeases();
  jailnet('cni', 'del', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a');
  jailnet('cni', 'del', '--network', 'demo', '--container-id', 'pod-b', '--netns', 'pod-b');
  console.log('after teardown:');
  showLeases();
  const cache = readdirSync(path.join(scratch, 'state', 'cni', 'results'));
  const leftover = readdirSync(path.join(leases, 'demo')).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n));
  if (cache.length || leftover.length) throw new Error(`leaked: ${[...cache, ...leftover].join(' ')}`);
  console.log('demo: OK, no lease and no cache entry left');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
