// jailnet.conf: defaults, and clear errors with line numbers.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, parseConfigText } from '../src/config/jailnet-conf.js';
import { jailnet } from './helpers/run.js';

t.test('values and defaults', async (t) => {
  const file = path.join(t.testdir(), 'jailnet.conf');
  await fs.writeFile(file, '# comment\n[runtime]\nstate_dir = /srv/jailnet\ncni_plugin_dirs = /a/cni, /b/cni\n');
  const config = await loadConfig(file, '/nonexistent');
  t.same(config.runtime, {
    stateDir: '/srv/jailnet',
    cniConfigDir: process.platform === 'freebsd' ? '/usr/local/etc/cni/net.d' : '/etc/cni/net.d',
    cniPluginDirs: ['/a/cni', '/b/cni'],
    cniCacheDir: '/srv/jailnet/cni',
    toolPath: undefined,
    teardownTimeoutMs: 30_000,
    pluginTimeoutMs: 300_000,
  });
  const absent = await loadConfig(undefined, path.join(t.testdir(), 'missing.conf'));
  t.equal(absent.file, undefined, 'a missing default file means defaults');
  await t.rejects(loadConfig(path.join(t.testdir(), 'missing.conf'), '/x'), ConfigError, 'a missing named file is an error');
});

t.test('errors name the line', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['[runtime]\nstate_dir = /x\nbogus_key = 1\n', /:3: unknown key "bogus_key" in \[runtime\]/],
    ['[runtime]\nthis is not ini\n', /:2: malformed line/],
    ['[nosuch]\n', /:1: unknown section \[nosuch\]/],
    ['state_dir = /x\n', /:1: key "state_dir" is outside any section/],
    ['[runtime]\nstate_dir = relative/path\n', /:2: \[runtime\] state_dir: must be an absolute path/],
    ['[runtime]\nstate_dir = /a\nstate_dir = /b\n', /:3: key "state_dir" in \[runtime\] repeats line 2/],
  ];
  for (const [text, message] of cases) t.throws(() => parseConfigText(text, 'jailnet.conf'), message, JSON.stringify(text));
});

t.test('every section and its values', async (t) => {
  const config = parseConfigText(
    '[runtime]\ntool_path = /opt/sbin:/sbin\nteardown_timeout = 5\n[netmon]\nenable_netmon = true\npath = /usr/local/bin/jailnet-netmon\n[network]\ninternetworking_model = none\n',
    'jailnet.conf',
  );
  t.equal(config.runtime.toolPath, '/opt/sbin:/sbin');
  t.equal(config.runtime.teardownTimeoutMs, 5000);
  t.same(config.netmon, { enabled: true, path: '/usr/local/bin/jailnet-netmon' });
  t.same(config.network, { disableNewNetns: false, internetworkingModel: 'none' });
  for (const model of ['tcfilter', 'macvtap']) {
    t.throws(() => parseConfigText(`[network]\ninternetworking_model = ${model}\n`, 'x.conf'), new RegExp(`^x\\.conf:2: \\[network\\] internetworking_model = ${model} is not for jails: .* a jail has no VM .*; use none$`), `${model} is refused`);
  }
  t.throws(() => parseConfigText('[network]\ninternetworking_model = bridge\n', 'x.conf'), /x\.conf:2: \[network\] internetworking_model/);
});

t.test('conflicting options name both keys', async (t) => {
  t.throws(
    () => parseConfigText('[netmon]\nenable_netmon = true\n[network]\ndisable_new_netns = true\n', 'j.conf'),
    /^j\.conf:2: \[network\] disable_new_netns conflicts with \[netmon\] enable_netmon/,
  );
  for (const model of ['tcfilter', 'macvtap']) {
    t.throws(
      () => parseConfigText(`[network]\ndisable_new_netns = yes\ninternetworking_model = ${model}\n`, 'j.conf'),
      new RegExp(`^j\\.conf:3: \\[network\\] disable_new_netns works only with \\[network\\] internetworking_model = none, not ${model}`),
    );
  }
  t.doesNotThrow(() => parseConfigText('[network]\ndisable_new_netns = true\ninternetworking_model = none\n', 'j.conf'));
});

t.test('the CLI reports a bad config in one line and exits non-zero', async (t) => {
  const file = path.join(t.testdir(), 'bad.conf');
  await fs.writeFile(file, '[runtime]\nstat_dir = /x\n');
  const result = await jailnet(['--config', file, 'cni', 'status', '--network', 'x']);
  t.equal(result.code, 2);
  t.equal(result.stderr, `jailnet: ${file}:2: unknown key "stat_dir" in [runtime]\n`);
});

t.test('[netmon] path names another program: jailnet netmon hands over to it', async (t) => {
  const dir = t.testdir();
  const program = path.join(dir, 'other-netmon');
  await fs.writeFile(program, '#!/bin/sh\necho "other netmon, config $JAILNET_CONFIG"\nexit 3\n', { mode: 0o755 });
  const file = path.join(dir, 'jailnet.conf');
  await fs.writeFile(file, `[netmon]\nenable_netmon = yes\npath = ${program}\n`);
  const result = await jailnet(['--config', file, 'netmon']);
  t.equal(result.stdout, `other netmon, config ${file}\n`, 'it runs, told which config');
  t.equal(result.code, 3, 'its exit status is netmon\'s');
});
