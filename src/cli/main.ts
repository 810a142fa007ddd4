// The jailnet CLI. main() returns the exit code; only bin/jailnet.js sets it.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { CniError } from '../cni/errors.js';
import { ConfigError } from '../config/jailnet-conf.js';
import { configureLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { cniCommand } from './cni-command.js';
import { gcCommand } from './gc-command.js';
import { hostCommand } from './host-command.js';
import { networkCommand } from './network-command.js';
import { containerCommand, podCommand } from './pod-command.js';
import { statusCommand } from './status-command.js';
import { createContext, type GlobalOptions } from './context.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function describeError(error: unknown): { message: string; json: Record<string, unknown> } {
  if (error instanceof CniError) {
    return { message: error.describe(), json: { code: error.code, msg: error.message, ...(error.details ? { details: error.details } : {}) } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, json: { msg: message } };
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export function buildProgram(io: CliIO = processIO): Command {
  const program = new Command('jailnet');
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const context = createContext(globals, io.stdout);
  program
    .description('container networking on FreeBSD jails: CNI plugins, pods, and their teardown')
    .version(packageVersion())
    .option('--config <file>', 'jailnet.conf (ini) to read instead of the default')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(LOG_LEVELS).default('warn'))
    .option('--json', 'machine-readable output', false)
    .option('--dry-run', 'print the host command plan and run nothing', false)
    .addOption(new Option('--host <driver>', 'host driver (default: $JAILNET_HOST, else the OS)').choices(['freebsd', 'linux']))
    .enablePositionalOptions()
    .showHelpAfterError('(use --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .hook('preAction', () => {
      configureLogger(globals().logLevel as LogLevel);
    });
  program.addCommand(cniCommand(context));
  program.addCommand(hostCommand(context));
  program.addCommand(networkCommand(context));
  program.addCommand(podCommand(context));
  program.addCommand(containerCommand(context));
  program.addCommand(gcCommand(context));
  program.addCommand(statusCommand(context));
  const configure = (command: Command): void => {
    command.exitOverride().showHelpAfterError('(use --help for usage)').configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    // A command that succeeded with a non-zero answer (status: a check failed) set it.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const { message, json } = describeError(error);
    if (program.opts<GlobalOptions>().json) io.stdout(`${JSON.stringify({ error: json })}\n`);
    io.stderr(`jailnet: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
}
