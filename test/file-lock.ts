// The cross-process lock: mutual exclusion, and recovery from a holder that died.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { acquireLock, withLock } from '../src/util/file-lock.js';

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
  await t.rejects(acquireLock(owner, { timeoutMs: 150 }), /timed out waiting for lock/);
  t.equal(await fs.readFile(owner, 'utf8'), `${process.ppid}\n`, 'the live holder keeps its lock');
  await fs.writeFile(owner, `${process.ppid}\n`);
  const old = new Date(Date.now() - 120_000);
  await fs.utimes(owner, old, old);
  const release = await acquireLock(owner, { timeoutMs: 1000, staleMs: 60_000 });
  t.pass('an owner file older than any critical section is stale even with a live pid');
  await release();
});
