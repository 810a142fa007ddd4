// Every host command goes through src/hosts/exec.ts with an argv array and no shell; and the
// doors (the CLI, jailnetd, the executables podman runs) reach the same modules, never each other.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/run.js';

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name)) out.push(full);
  }
  return out;
}

t.test('only the exec door imports execa or child_process, and nothing asks for a shell', async (t) => {
  const files = [...(await sourceFiles(path.join(ROOT, 'src'))), ...(await sourceFiles(path.join(ROOT, 'libexec')))];
  t.ok(files.length > 20, 'the sources were found');
  for (const file of files) {
    const text = await fs.readFile(file, 'utf8');
    const relative = path.relative(ROOT, file);
    if (relative !== path.join('src', 'hosts', 'exec.ts')) {
      t.notMatch(text, /(from |import\()['"](execa|node:child_process|child_process)['"]/, `${relative} runs no process itself`);
    }
    t.notMatch(text, /shell:\s*true|execaCommand|\$`/, `${relative} never asks for a shell`);
  }
});

t.test('nothing outside the CLI imports the CLI: jailnetd and the plugins serve through the modules the CLI also calls', async (t) => {
  const files = [...(await sourceFiles(path.join(ROOT, 'src'))), ...(await sourceFiles(path.join(ROOT, 'libexec')))];
  for (const file of files.filter((f) => !f.startsWith(path.join(ROOT, 'src', 'cli') + path.sep))) {
    const text = await fs.readFile(file, 'utf8');
    t.notMatch(text, /(from |import\()['"][./]*(dist\/)?cli\//, `${path.relative(ROOT, file)} does not import the CLI`);
  }
});

t.test('the door hands execa a file and an argv array, shell off, whatever the caller does', async (t) => {
  const calls: Array<{ file: unknown; args: unknown; options: Record<string, unknown> }> = [];
  const execModule = await t.mockImport<typeof import('../src/hosts/exec.js')>('../src/hosts/exec.js', {
    execa: {
      execa: async (file: unknown, args: unknown, options: Record<string, unknown>) => {
        calls.push({ file, args, options });
        return { exitCode: 0, stdout: 'epair0a\n', stderr: '', failed: false };
      },
    },
  });
  const { FreeBSDHost } = await t.mockImport<typeof import('../src/hosts/freebsd/driver.js')>('../src/hosts/freebsd/driver.js', {
    '../src/hosts/exec.js': execModule,
  });
  const { createExecDoor } = execModule;
  const toolDir = t.testdir({ ifconfig: '', jexec: '', jail: '', jls: '', route: '', pfctl: '', sysctl: '', kldload: '', kldstat: '', netstat: '' });
  for (const name of ['ifconfig', 'jexec', 'jail', 'jls', 'route', 'pfctl', 'sysctl', 'kldload', 'kldstat', 'netstat']) {
    await fs.chmod(path.join(toolDir, name), 0o755);
  }
  const door = createExecDoor({ toolPath: toolDir });
  const host = new FreeBSDHost(door);
  // A name full of shell syntax must reach the tool as one argument, never be interpreted.
  const hostile = 'x; rm -rf / $(id) `id` | cat';
  await host.createEpair({}, 'pod');
  await host.setDescription('epair0a', hostile);
  await host.addRoute('default', '10.0.0.1', 'pod');
  await host.filter.publishPorts({ owner: { containerId: 'x', ifname: 'eth0' }, forwards: [{ protocol: 'tcp', hostPort: 1, podAddress: '10.0.0.1', podPort: 1 }] });
  await host.sysctlSet('net.inet.ip.forwarding', '1', 'pod');
  await host.filter.masquerade(['10.0.0.5']);
  await host.isModuleLoaded('pf');
  t.ok(calls.length >= 7);
  for (const call of calls) {
    t.equal(typeof call.file, 'string');
    t.ok(path.isAbsolute(call.file as string), 'the tool is an absolute path from the tool path');
    t.ok(Array.isArray(call.args) && (call.args as unknown[]).every((a) => typeof a === 'string'), 'args is an argv array');
    t.equal(call.options.shell, false, 'shell is off');
  }
  t.ok(calls.some((c) => (c.args as string[]).includes(hostile)), 'the hostile text travelled as a single argument');
  await t.rejects(door.run('ifconfig', 'epair create' as unknown as string[]), /argv array/, 'a string instead of argv is refused');
  await t.rejects(door.run('/bin/sh', ['-c', 'true']), /looked up in the tool path/, 'a path instead of a tool name is refused');
});

t.test('tools come only from the tool path, never from PATH', async (t) => {
  const { createExecDoor, ToolNotFoundError } = await import('../src/hosts/exec.js');
  const empty = t.testdir({});
  const door = createExecDoor({ toolPath: empty, env: { PATH: '/usr/bin:/bin' } });
  await t.rejects(door.run('true', []), { name: 'ToolNotFoundError', message: /true: not found in the tool path/ });
  t.ok(ToolNotFoundError);
});
