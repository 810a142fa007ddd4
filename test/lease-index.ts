// host-local's index of leases by attachment: built from the leases already there (the
// reference plugin's included), kept by reservations and releases, beside the network's
// lease directory (which stays the reference layout), and trusted only where a lease file
// itself names the attachment.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { formatIP, parseIP, type IP } from '../src/ipam/ip.js';
import { LeaseIndex } from '../src/ipam/lease-index.js';
import { LeaseStore } from '../src/ipam/store.js';

const ip = (text: string): IP => parseIP(text) as IP;
const shown = (ips: IP[]) => ips.map(formatIP).sort();

/** A network's lease directory as the reference plugin leaves it, before jailnet first uses it. */
function referenceLeases(dataDir: string, leases: Record<string, string>): string {
  const dir = path.join(dataDir, 'net');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'lock'), '');
  writeFileSync(path.join(dir, 'last_reserved_ip.0'), '10.1.0.3');
  for (const [address, content] of Object.entries(leases)) writeFileSync(path.join(dir, address), content);
  return dir;
}

t.test("leases there before first use are found through the index built from them", async (t) => {
  const dataDir = t.testdir();
  const dir = referenceLeases(dataDir, { '10.1.0.2': 'ctrA\r\neth0', '10.1.0.3': 'ctrB', '10.1.0.4': 'ctrA\r\neth1' });
  const store = await LeaseStore.open(dataDir, 'net');
  t.same(shown(await store.locked(() => store.byAttachment('ctrA', 'eth0'))), ['10.1.0.2']);
  t.same(shown(await store.locked(() => store.byAttachment('ctrA', 'eth1'))), ['10.1.0.4']);
  t.equal(await store.locked(() => store.releaseAttachment('ctrB', 'eth0')), 1, "a lease of the older format (the ID alone) is the attachment's when it has no other");
  t.notOk(existsSync(path.join(dir, '10.1.0.3')));
  t.equal(await store.locked(() => store.releaseAttachment('ctrA', 'eth0')), 1);
  t.same(readdirSync(dir).sort(), ['10.1.0.4', 'last_reserved_ip.0', 'lock'], "the network's directory keeps the reference layout: only leases and the reference's own files");
  t.ok(existsSync(path.join(dataDir, '.jailnet-by-attachment', 'net')), 'the index is beside it');
});

t.test('reservations and releases keep the index', async (t) => {
  const dataDir = t.testdir();
  const store = await LeaseStore.open(dataDir, 'net');
  t.equal(await store.locked(() => store.reserve('ctrC', 'eth0', ip('10.1.0.5'), 0)), true);
  t.equal(await store.locked(() => store.reserve('ctrD', 'eth0', ip('10.1.0.5'), 0)), false, 'an address another attachment holds is refused');
  t.same(await new LeaseIndex(dataDir, 'net').addresses('ctrD\r\neth0'), [], 'and leaves no hint for the one refused');
  t.equal(await store.locked(() => store.reserve('ctrC', 'eth0', ip('10.1.0.5'), 0)), false, 'asked again by its holder: refused too');
  t.same(shown(await store.locked(() => store.byAttachment('ctrC', 'eth0'))), ['10.1.0.5'], 'and the holder still finds it');
  await store.locked(() => store.release(ip('10.1.0.5')));
  t.same(await new LeaseIndex(dataDir, 'net').addresses('ctrC\r\neth0'), [], 'a release takes the address out of the index');
});

t.test('a hint a crash left (an address listed, its lease someone else’s) is never taken for a lease', async (t) => {
  const dataDir = t.testdir();
  const dir = referenceLeases(dataDir, { '10.1.0.2': 'ctrA\r\neth0' });
  const store = await LeaseStore.open(dataDir, 'net');
  t.same(shown(await store.locked(() => store.byAttachment('ctrA', 'eth0'))), ['10.1.0.2'], 'index built');
  // Listed before the lease is made: a crash in between leaves the hint, and the address may go to another.
  await new LeaseIndex(dataDir, 'net').add('ctrE\r\neth0', '10.1.0.2');
  t.same(await store.locked(() => store.byAttachment('ctrE', 'eth0')), [], 'not a lease of ctrE: no duplicate for its ADD');
  t.equal(await store.locked(() => store.releaseAttachment('ctrE', 'eth0')), 0, 'and its DEL releases nothing');
  t.ok(existsSync(path.join(dir, '10.1.0.2')), "ctrA's lease is still there");
});

t.test('a reservation a crash cut short (its lease file made, still empty) goes with its attachment', async (t) => {
  const dataDir = t.testdir();
  const store = await LeaseStore.open(dataDir, 'net');
  const index = new LeaseIndex(dataDir, 'net');
  // What reserve() leaves when killed between creating the lease file and writing it: listed first, then the empty file.
  const cutShort = async (address: string) => {
    await index.add('ctrF\r\neth0', address);
    writeFileSync(path.join(store.dir, address), '');
  };
  await cutShort('10.1.0.7');
  t.same(await store.locked(() => store.byAttachment('ctrF', 'eth0')), [], 'not a lease of ctrF: its ADD is no duplicate');
  t.equal(await store.locked(() => store.releaseAttachment('ctrF', 'eth0')), 1, "its DEL releases it");
  t.notOk(existsSync(path.join(store.dir, '10.1.0.7')), 'the empty lease file is gone');
  t.same(await index.addresses('ctrF\r\neth0'), [], 'and the index no longer lists it');

  await cutShort('10.1.0.8');
  t.same(await store.locked(() => store.heldAfterCrash('ctrF', 'eth0')), [], 'an ADD after the crash holds nothing yet');
  t.notOk(existsSync(path.join(store.dir, '10.1.0.8')), 'and has released what was cut short, so the address is free again');
  t.equal(await store.locked(() => store.reserve('ctrF', 'eth0', ip('10.1.0.8'), 0)), true, 'it can be reserved');

  // Another attachment's empty lease listed under ctrG's key is never taken for ctrG's: only the lister's key counts.
  writeFileSync(path.join(store.dir, '10.1.0.9'), 'ctrH\r\neth0');
  await index.add('ctrG\r\neth0', '10.1.0.9');
  t.equal(await store.locked(() => store.releaseAttachment('ctrG', 'eth0')), 0, "a lease that names someone else is not released");
  t.ok(existsSync(path.join(store.dir, '10.1.0.9')));
});
