// jailnetd killed (SIGKILL) while 20 runtimes add podman's chain through it on the
// simulated FreeBSD host: every ADD ends either with a result or with a clean CNI error,
// the shims fall back to plugin processes of their own, and the DELs leave nothing.
import path from 'node:path';
import t from 'tap';
import { comparable, podHost, podmanDefaultNetwork } from './helpers/podnet.js';
import { cniLeftovers } from './helpers/snapshot.js';
import { answers, socketDir, startDaemonProcess } from './helpers/daemon.js';

t.setTimeout(900_000);

const ADDS = 20;

t.test(`SIGKILL to jailnetd in the middle of ${ADDS} concurrent ADDs`, async (t) => {
  const socket = path.join(await socketDir(t), 'd.sock');
  const h = await podHost(t, { runtime: ['plugin_timeout = 900'], env: { JAILNET_SOCKET: socket } });
  const names = Array.from({ length: ADDS }, (_, i) => `ctr${i}`);
  for (const name of names) await h.jail(name);
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const before = comparable(h.sim.state());
  const daemon = await startDaemonProcess(t, h.env, socket);
  const id = (i: number) => `${String(i).padStart(4, '0')}${'d'.repeat(60)}`;

  let killedAt = Number.POSITIVE_INFINITY;
  const finishedAt: number[] = [];
  const adds = Promise.all(names.map((jail, i) => h.add(list, id(i), jail).then((r) => ((finishedAt[i] = Date.now()), r))));
  // Killed as soon as the first ADD has made the bridge: the others are on their way.
  for (let i = 0; i < 600 && !h.sim.state().ifaces.some((f) => f.name === 'cni-podman0'); i++) await new Promise((r) => setTimeout(r, 100));
  await daemon.kill();
  killedAt = Date.now();
  t.notOk(await answers(socket), 'nothing answers on the socket any more');
  const results = await adds;
  const inFlight = finishedAt.filter((at) => at > killedAt).length;
  t.ok(inFlight > 0, `${inFlight} ADDs were still running when the daemon died`);

  const clean = results.filter((r) => r.code === 0 || (typeof r.json?.code === 'number' && typeof r.json?.msg === 'string'));
  t.equal(clean.length, ADDS, 'every ADD ended with a result or a CNI error');
  const ok = results.filter((r) => r.code === 0);
  const addresses = ok.map((r) => r.json?.ips?.[0]?.address as string);
  t.equal(new Set(addresses).size, addresses.length, 'no address was handed out twice');
  t.equal(ok.length, ADDS, `the shims fell back: ${ADDS - ok.length} ADDs failed`);
  const reached = names.filter((jail, i) => results[i]?.code === 0 && h.sim.reach({ from: jail, to: '10.88.0.1', port: 53 }).delivered).length;
  t.equal(reached, ok.length, 'every pod that got an address reaches its gateway');

  const dels = await Promise.all(names.map((jail, i) => h.del(list, id(i), jail)));
  t.same(dels.filter((r) => r.code !== 0).map((r) => r.stdout + r.stderr), [], 'every DEL succeeded (in plugin processes: the daemon is gone)');
  const leaks = await cniLeftovers(h.dir);
  t.same(leaks, [], 'no lease, record, cache entry or lock is left');
  t.same(comparable(h.sim.state(), ['cni-podman0']), before, 'the host is as before, apart from the bridge');
  t.comment(`daemon killed during ${ADDS} ADDs: ${inFlight} in flight, ${ok.length} succeeded, ${ADDS - ok.length} failed cleanly, ${leaks.length} leaks`);
});
