// The load balancer's batch import (issue 14): `kata-ipvs ipvsadm --restore -` of 20,000
// rules (5,000 services × (1 + 3 real servers)) on both drivers. Measured:
//   - jailnet's own time: parsing, checking and rendering the batch in-process (the work
//     that is jailnet's), median of SAMPLES after WARMUP;
//   - the whole command through the CLI (Node start and the host tool included): on Linux
//     for real (nft in a pod's netns), on the simulated FreeBSD host (whose pfctl is a Node
//     process that reads and writes its whole state: that time is the simulator's);
//   - the host commands the restore runs (the simulator's log; on Linux the --dry-run plan);
//   - `-L -n` listing 5,000 services, and the 20,001st rule refused.
// There is no reference to run beside it: this kernel has no IPVS (no ip_vs), so ipvsadm
// cannot load anything here. `node bench/balancer.mjs` (root, Linux) prints the results.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { baseEnv, median, ms, root, scratch, WARMUP } from './common.mjs';
import { simulatedHost } from './scale.mjs';

const SAMPLES = 5;
const SERVICES = 5000;
const SERVERS = 3;

function batch() {
  const lines = [];
  for (let i = 0; i < SERVICES; i++) {
    const vip = `10.${100 + Math.floor(i / 250)}.${i % 250}.1:80`;
    lines.push(`-A -t ${vip} -s rr`);
    for (let j = 0; j < SERVERS; j++) lines.push(`-a -t ${vip} -r 172.16.${j}.${(i % 250) + 1}:8080 -m -w 1`);
  }
  return `${lines.join('\n')}\n`;
}

const dist = (file) => import(path.join(root, 'dist', file));

async function ownTime(text) {
  const { restoreRules } = await dist('balancer/restore.js');
  const { emptyRules } = await dist('balancer/rules.js');
  const { balancerScript } = await dist('hosts/linux/nft-balancer.js');
  const { checkPfRules, lbAnchorText, lbMainRuleset } = await dist('hosts/freebsd/lb-text.js');
  const time = (work) => {
    const samples = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const started = process.hrtime.bigint();
      work();
      if (i >= WARMUP) samples.push(ms(started));
    }
    return median(samples);
  };
  const linux = time(() => balancerScript(emptyRules(), restoreRules(emptyRules(), text, { replace: false }), (t) => t));
  const freebsd = time(() => {
    const rules = restoreRules(emptyRules(), text, { replace: false });
    checkPfRules(rules);
    return lbMainRuleset(rules) + lbAnchorText(rules);
  });
  return { linux, freebsd };
}

function cli(env, args, input = '') {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'jailnet.js'), ...args], { env, input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: ms(started) };
}

function checkResult(name, r) {
  if (r.code !== 0) throw new Error(`${name}: ${r.stderr}`);
  return r;
}

/** Restores, lists, and tries the 20,001st rule on one pod; returns the times and counts. */
function exercise(env, pod, text) {
  const samples = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const r = checkResult('restore', cli(env, ['kata-ipvs', 'ipvsadm', '--restore', '-', '--replace', pod], text));
    if (i >= WARMUP) samples.push(r.ms);
  }
  const listed = checkResult('list', cli(env, ['kata-ipvs', 'ipvsadm', '--parameters', '-L -n', pod]));
  const over = cli(env, ['kata-ipvs', 'ipvsadm', '--parameters', '-A -t 10.250.0.1:80 -s rr', pod]);
  return {
    restore: median(samples),
    services: listed.stdout.split('\n').filter((l) => /^(TCP|UDP) /.test(l)).length,
    refused: over.code === 1 && /rules exceed limit, should clear first/.test(over.stderr),
  };
}

async function onSimulator(text) {
  const dir = path.join(scratch, 'lb-freebsd');
  const { sim, env } = await simulatedHost(dir);
  checkResult('pod create', cli(env, ['pod', 'create', 'lb', '--mode', 'none']));
  const before = sim.log().length;
  checkResult('first restore', cli(env, ['kata-ipvs', 'ipvsadm', '--restore', '-', 'lb'], text));
  // The simulator logs a jexec and then the tool it runs: the tool is the command.
  const commands = sim.log().slice(before).map((e) => e.argv.join(' ')).filter((c) => !c.startsWith('jexec '));
  const result = exercise(env, 'lb', text);
  const ruleLoads = commands.filter((c) => /^pfctl -a jailnet-lb -f -$/.test(c)).length;
  return { ...result, commands: commands.length, ruleLoads, log: commands };
}

function onLinux(text) {
  const conf = path.join(scratch, 'lb-linux.conf');
  writeFileSync(conf, `[runtime]\nstate_dir = ${scratch}/lb-linux-state\n`);
  const env = { ...baseEnv, JAILNET_CONFIG: conf };
  checkResult('pod create', cli(env, ['pod', 'create', 'jnb-lb', '--mode', 'none']));
  try {
    const plan = checkResult('plan', cli(env, ['--dry-run', 'kata-ipvs', 'ipvsadm', '--restore', '-', 'jnb-lb'], text));
    const nftRuns = plan.stdout.split('\n').filter((l) => /\bnft -f -/.test(l)).length;
    // The plan: one host command a line; file writes are comments.
    const hostCommands = plan.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
    return { ...exercise(env, 'jnb-lb', text), nftRuns, hostCommands, plan: plan.stdout };
  } finally {
    cli(env, ['pod', 'rm', '--force', 'jnb-lb']);
  }
}

const text = batch();
const own = await ownTime(text);
const linux = onLinux(text);
const freebsd = await onSimulator(text);
const row = (name, ownMs, r, commands) =>
  `| ${name} | ${ownMs.toFixed(0)} ms | ${r.restore.toFixed(0)} ms | ${commands} | ${r.services} | ${r.refused ? 'refused' : 'NOT refused'} |`;
console.log(`--restore of ${SERVICES * (1 + SERVERS)} rules (${SERVICES} services × (1 + ${SERVERS})), medians of ${SAMPLES}\n`);
console.log('| driver | jailnet\'s own time | whole command | host commands | -L -n services | 20,001st rule |');
console.log('|---|---|---|---|---|---|');
console.log(row('Linux (nft, real)', own.linux, linux, `${linux.hostCommands} in all, ${linux.nftRuns} nft -f -`));
console.log(row('FreeBSD (pf, simulator)', own.freebsd, freebsd, `${freebsd.commands} in all, ${freebsd.ruleLoads} pfctl -a jailnet-lb -f -`));
if (process.argv.includes('--commands')) console.log(`\nLinux plan:\n${linux.plan}\nFreeBSD (first restore, simulator log):\n${freebsd.log.join('\n')}`);
