#!/usr/bin/env node
// Times jailnet's host-local beside the reference plugin (Debian's
// containernetworking-plugins): VERSION, and ADD+DEL pairs on one network, each call a
// fresh process as a runtime makes it. Prints wall-clock figures per call and peak RSS.
// Usage: node bench/host-local.mjs [iterations]   (run `npm run build` first)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const iterations = Number(process.argv[2] ?? 30);
const plugins = { jailnet: path.join(root, 'libexec', 'cni', 'host-local'), reference: '/usr/lib/cni/host-local' };
// The CA bundle variable of some machines adds ~140 ms to every Node start.
const { NODE_EXTRA_CA_CERTS: _slow, NODE_OPTIONS: _hooks, ...env } = process.env;

function call(file, command, id, config) {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', file], {
    input: JSON.stringify(config),
    encoding: 'utf8',
    env: { ...env, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: path.dirname(file) },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${file} ${command}: ${result.stdout}${result.stderr}`);
  const rssKb = Number(result.stderr.trim().split('\n').at(-1));
  return { ms, rssKb };
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted.at(-1) };
}

const rows = [];
for (const [name, file] of Object.entries(plugins)) {
  const dataDir = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
  const config = { cniVersion: '1.0.0', name: 'bench', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.200.0.0/16' }]] } };
  const version = [];
  const add = [];
  const del = [];
  const rss = [];
  for (let i = 0; i < iterations; i++) {
    const v = call(file, 'VERSION', '', {});
    const a = call(file, 'ADD', `c${i}`, config);
    const d = call(file, 'DEL', `c${i}`, config);
    version.push(v.ms);
    add.push(a.ms);
    del.push(d.ms);
    rss.push(a.rssKb);
  }
  rmSync(dataDir, { recursive: true, force: true });
  for (const [op, values] of [['VERSION', version], ['ADD', add], ['DEL', del]]) rows.push({ plugin: name, op, ...stats(values) });
  rows.push({ plugin: name, op: 'ADD peak RSS (MiB)', mean: stats(rss).mean / 1024, median: stats(rss).median / 1024, min: stats(rss).min / 1024, max: stats(rss).max / 1024 });
}
console.log(`host-local, ${iterations} iterations, ms per call (wall clock, process start included)`);
console.log('plugin     op                   mean   median      min      max');
for (const r of rows) {
  console.log(`${r.plugin.padEnd(10)} ${r.op.padEnd(18)} ${[r.mean, r.median, r.min, r.max].map((v) => v.toFixed(1).padStart(8)).join(' ')}`);
}
