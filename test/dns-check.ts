// `jailnet status`'s lines on container names (src/dns/dns-check.ts), in-process on a scratch
// run directory: nothing said without a dnsname network, aardvark-dns missing (the install
// line of each system), serving, and the names not served while it is not running (drift).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { dnsChecks, unservedNames } from '../src/dns/dns-check.js';

const plain = { name: 'plain', plugins: [{ type: 'bridge' }, { type: 'portmap' }] };
const named = { name: 'web', plugins: [{ type: 'bridge' }, { type: 'dnsname' }] };

t.test('dnsChecks', async (t) => {
  const run = t.testdir();
  const env = { JAILNET_RUN_DIR: run };
  const files = path.join(run, 'aardvark-dns');
  // Any file that exists stands in for the binary: the check only looks for it.
  const present = [process.execPath];
  t.same(await dnsChecks('linux', [plain], env, present), [], 'no network asks for names: no line');
  t.match(await dnsChecks('freebsd', [plain, named], env, ['/nonexistent/aardvark-dns']), [{ ok: false, name: /network web ask for container names \(dnsname\) but aardvark-dns is missing/, fix: 'pkg install aardvark-dns' }]);
  t.match(await dnsChecks('linux', [named], env, ['/nonexistent/aardvark-dns']), [{ ok: false, fix: 'apt install aardvark-dns' }]);
  t.match(await dnsChecks('linux', [named], env, present), [{ ok: true, name: 'container names for network web: no container has a name yet' }]);
  mkdirSync(files);
  writeFileSync(path.join(files, 'web'), '10.89.0.1\nabc 10.89.0.2  web,abc\n');
  writeFileSync(path.join(files, 'aardvark.pid'), '999999999\n');
  t.same(await dnsChecks('linux', [named], env, present), [], "not running while names are recorded: drift's line, not this one");
  t.same(await unservedNames(files), ['web'], 'the names not served');
  writeFileSync(path.join(files, 'aardvark.pid'), `${process.pid}\n`);
  t.match(await dnsChecks('linux', [named], env, present), [{ ok: true, name: `container names for network web: aardvark-dns (pid ${process.pid}) serves web` }]);
  t.same(await unservedNames(files), [], 'all served');
});
