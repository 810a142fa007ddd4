// The DNS module's file edits as data: aardvark's format (a header with the gateways and the
// network's servers, one line a container), replacing a container's line, dropping it and the
// file with it, `update`'s servers, `%int` by version, and the names and loops refused.
import t from 'tap';
import { checkDnsName, checkNoLoop, entryLine, headerLine, networkFile, withEntry, withoutEntry, withServers, type DnsEntry, type NetworkDns } from '../dist/dns/aardvark.js';

const NET: NetworkDns = { network: 'web', internal: false, listen: ['10.89.3.1', 'fd10:88:a::1'], servers: [] };
const ONE: DnsEntry = { containerId: 'f031', ipv4: ['10.89.3.2'], ipv6: ['fd10:88:a::2'], names: ['somename'], servers: ['8.8.8.8', '1.1.1.1'] };
const TWO: DnsEntry = { containerId: 'a3b7', ipv4: ['10.89.3.3'], ipv6: [], names: ['web', 'www', 'a3b735c42af6'], servers: [] };

t.test("aardvark's lines", async (t) => {
  t.equal(headerLine(NET), '10.89.3.1,fd10:88:a::1');
  t.equal(headerLine({ ...NET, servers: ['127.0.0.1', '3.3.3.3'] }), '10.89.3.1,fd10:88:a::1 127.0.0.1,3.3.3.3');
  t.equal(entryLine(ONE), 'f031 10.89.3.2 fd10:88:a::2 somename 8.8.8.8,1.1.1.1');
  t.equal(entryLine(TWO), 'a3b7 10.89.3.3  web,www,a3b735c42af6', 'an empty list stays an empty field');
});

t.test('adding, replacing and removing entries', async (t) => {
  const first = withEntry(undefined, NET, ONE);
  t.equal(first, '10.89.3.1,fd10:88:a::1\nf031 10.89.3.2 fd10:88:a::2 somename 8.8.8.8,1.1.1.1\n');
  const both = withEntry(first, NET, TWO);
  t.equal(both.split('\n').length, 4);
  t.equal(withEntry(both, NET, { ...TWO, ipv4: ['10.89.3.9'] }).match(/^a3b7 /gm)?.length, 1, 'a container has one line, the newest');
  t.equal(withoutEntry(both, 'a3b7'), first, 'its line goes');
  t.equal(withoutEntry(first, 'f031'), undefined, 'with only the header left, the file goes');
  t.equal(withoutEntry(first, 'nope'), first, 'another container changes nothing');
  t.equal(withServers(both, ['9.9.9.9']).split('\n')[0], '10.89.3.1,fd10:88:a::1 9.9.9.9');
  t.equal(withServers(withServers(both, ['9.9.9.9']), []).split('\n')[0], '10.89.3.1,fd10:88:a::1', 'no servers: the column goes');
});

t.test('internal networks, names, loops', async (t) => {
  t.equal(networkFile({ ...NET, internal: true }, [1, 4]), 'web', 'aardvark 1.4 knows no %int');
  t.equal(networkFile({ ...NET, internal: true }, [1, 11]), 'web%int');
  t.equal(networkFile(NET, [2, 0]), 'web');
  t.equal(checkDnsName('Web-1', 'name'), 'web-1', 'lower-cased, as aardvark keeps names');
  for (const bad of ['a b', 'a,b', 'a\nb', '', 'x'.repeat(64), '-x']) t.throws(() => checkDnsName(bad, 'name'), { name: 'DnsError' }, JSON.stringify(bad));
  t.throws(() => checkNoLoop({ ...NET, servers: ['10.89.3.1'] }, []), { message: /DNS server 10\.89\.3\.1 is a gateway of network web/ });
  t.throws(() => checkNoLoop(NET, ['fd10:88:a::1']), { message: /aardvark-dns would ask itself/ });
  t.doesNotThrow(() => checkNoLoop(NET, ['192.0.2.53']));
});
