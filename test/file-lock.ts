// The cross-process lock: mutual exclusion, and recovery from a holder that died.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEADLINE_ENV, whileUndoing } from '../src/util/deadline.js';
import { acquireLock, lockHeld, withLock } from '../src/util/file-lock.js';

t.test('critical sections never overlap', async (t) => {
  const owner = path.join(t.testdir(), 'lock.owner');
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: 20 }, () =>
      withLock(owner, async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
      }),
    ),
  );
  t.equal(maxInside, 1);
  await t.rejects(fs.stat(owner), 'the owner file is gone after release');
});

t.test('a lock left by a dead process is taken over', async (t) => {
  const owner = path.join(t.testdir(), 'lock.owner');
  // A process that has exited: its pid is free (pid reuse within the test is not a concern).
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  await fs.writeFile(owner, `${dead}\n`);
  const release = await acquireLock(owner, { timeoutMs: 2000 });
  t.equal(await fs.readFile(owner, 'utf8'), `${process.pid}\n`, 'the lock now names this process');
  await release();
});

t.test('a lock held by a live process is waited for, and times out', async (t) => {
  const owner = path.join(t.testdir(), 'lock.owner');
  await fs.writeFile(owner, `${process.ppid}\n`);
  await t.rejects(acquireLock(owner, { timeoutMs: 150 }), /timed out after \d+ ms waiting for lock/);
  t.equal(await fs.readFile(owner, 'utf8'), `${process.ppid}\n`, 'the live holder keeps its lock');
  await fs.writeFile(owner, `${process.ppid}\n`);
  const old = new Date(Date.now() - 120_000);
  await fs.utimes(owner, old, old);
  const release = await acquireLock(owner, { timeoutMs: 1000, staleMs: 60_000 });
  t.pass('an owner file older than any critical section is stale even with a live pid');
  await release();
});

t.test('waiters get the lock in the order they asked for it, and the queue goes with the last', async (t) => {
  const dir = t.testdir();
  const owner = path.join(dir, 'lock.owner');
  const release = await acquireLock(owner);
  t.equal(await lockHeld(owner), true, 'lockHeld sees the holder');
  const order: number[] = [];
  const waiters: Array<Promise<void>> = [];
  for (let i = 0; i < 12; i++) {
    waiters.push(withLock(owner, async () => void order.push(i)));
    await sleep(3);
  }
  await sleep(30);
  await release();
  await Promise.all(waiters);
  t.same(order, [...Array(12).keys()], 'first come, first served');
  t.same(await fs.readdir(dir), [], 'no owner file and no queue are left');
  t.equal(await lockHeld(owner), false);
});

t.test("waits end before the caller's deadline, and undo may use the reserve", async (t) => {
  const owner = path.join(t.testdir(), 'lock.owner');
  await fs.writeFile(owner, `${process.ppid}\n`);
  const saved = process.env[DEADLINE_ENV];
  t.teardown(() => {
    if (saved === undefined) delete process.env[DEADLINE_ENV];
    else process.env[DEADLINE_ENV] = saved;
  });
  process.env[DEADLINE_ENV] = String(Date.now() + 10_100);
  const started = Date.now();
  await t.rejects(acquireLock(owner), /timed out/);
  t.ok(Date.now() - started < 1000, 'a normal wait keeps the rollback reserve free');
  // The holder lets go after 500 ms: past the normal budget, inside the reserve.
  setTimeout(() => void fs.rm(owner), 500);
  const release = await whileUndoing(() => acquireLock(owner));
  t.pass('an undo waits into the reserve');
  await release();
});
