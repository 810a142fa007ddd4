// The jailnet CLI. main() returns the exit code; only bin/jailnet.js sets it.
import { readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { configureLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { formatPlan } from '../util/change-plan.js';
import { describeError, stderrLines } from '../util/describe-error.js';
import { oneLine } from '../util/teardown.js';
import { cniCommand } from './cni-command.js';
import { daemonCommand } from './daemon-command.js';
import { gcCommand } from './gc-command.js';
import { hostCommand } from './host-command.js';
import { kataIpvsCommand } from './kata-ipvs-command.js';
import { topologyCommand } from './topology-command.js';
import { bashCompletion, completionWords, tcshCompletion } from './completion.js';
import { kataNetworkCommand } from './kata-network-command.js';
import { networkCommand } from './network-command.js';
import { containerCommand, podCommand } from './pod-command.js';
import { netmonCommand } from './netmon-command.js';
import { repairCommand } from './repair-command.js';
import { statusCommand } from './status-command.js';
import { createContext, type CliContext, type CliIO, type GlobalOptions } from './context.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export type { CliIO };

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // A progress line only where a person watches both streams: never in a pipe or a log.
  terminal: Boolean(process.stdout.isTTY && process.stderr.isTTY),
};

/** commander's output; a usage error is one line, as every other error. */
function output(io: CliIO) {
  return {
    writeOut: io.stdout,
    writeErr: io.stderr,
    outputError: (text: string, write: (text: string) => void) => write(`jailnet: ${oneLine(text.trim()).replace(/^error: /, '')} (see jailnet --help)\n`),
  };
}

export function buildProgram(io: CliIO = processIO): { program: Command; context: CliContext } {
  const program = new Command('jailnet');
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const context = createContext(globals, io);
  program
    .description('container networking on FreeBSD jails: CNI plugins, pods, and their teardown')
    .version(packageVersion())
    .option('--config <file>', 'jailnet.conf (ini) to read instead of the default')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(LOG_LEVELS).default('warn'))
    .option('--json', 'machine-readable output', false)
    .option('--dry-run', 'print what would change (host commands, plugin calls, files) and change nothing', false)
    .option('--journal <file>', 'append the changes this command made (host commands, plugin calls, files) to file, as --dry-run prints them')
    .addOption(new Option('--host <driver>', 'host driver (default: $JAILNET_HOST, else the OS)').choices(['freebsd', 'linux']))
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput(output(io))
    .hook('preAction', (_program, action) => {
      takeGlobalsFrom(program, action);
      configureLogger(globals().logLevel as LogLevel);
    });
  program.addCommand(cniCommand(context));
  program.addCommand(hostCommand(context));
  program.addCommand(networkCommand(context));
  program.addCommand(podCommand(context));
  program.addCommand(containerCommand(context));
  program.addCommand(kataNetworkCommand(context));
  program.addCommand(kataIpvsCommand(context));
  program.addCommand(topologyCommand(context));
  program.addCommand(gcCommand(context));
  program.addCommand(statusCommand(context));
  program.addCommand(repairCommand(context));
  program.addCommand(netmonCommand(context));
  program.addCommand(daemonCommand(context));
  program.addCommand(completionCommand(program, io));
  const configure = (command: Command): void => {
    command.exitOverride().configureOutput(output(io));
    if (command.commands.length === 0) acceptGlobals(program, command);
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return { program, context };
}

/**
 * The global options are taken after the subcommand too (`jailnet pod inspect p1 --json`),
 * as podman users type them: each command that runs gets hidden copies, and what was given
 * there is handed to the program before the action (takeGlobalsFrom). After `--` nothing
 * is an option, so a container's own arguments are never taken.
 */
function acceptGlobals(program: Command, command: Command): void {
  for (const option of program.options) {
    if (option.long === '--version' || command.options.some((o) => o.long === option.long)) continue;
    const copy = new Option(option.flags, option.description).hideHelp();
    if (option.argChoices) copy.choices(option.argChoices);
    command.addOption(copy);
  }
}

function completionCommand(program: Command, io: CliIO): Command {
  return new Command('completion')
    .description('print a completion script for bash, zsh or tcsh (csh), generated from the command tree')
    .argument('[shell]', 'bash, zsh, tcsh or csh', 'bash')
    .option('--words', "print the words that complete tcsh's $COMMAND_LINE, one a line (what the tcsh script runs)", false)
    .action((shell: string, options: { words: boolean }) => {
      const globals = program.options.map((o) => o.long).filter((f): f is string => f !== undefined && f !== '--version');
      if (options.words) {
        const words = completionWords(program, globals, process.env.COMMAND_LINE ?? '');
        if (words.length > 0) io.stdout(`${words.join('\n')}\n`);
        return;
      }
      // FreeBSD's sh(1) completes file names only: it has no programmable completion to feed.
      if (shell === 'sh') throw new Error('no completion for sh: it has no programmable completion; bash, zsh (through bashcompinit) and tcsh are supported');
      if (shell === 'tcsh' || shell === 'csh') return io.stdout(tcshCompletion(program.name()));
      if (shell !== 'bash' && shell !== 'zsh') throw new Error(`no completion for ${shell}: bash, zsh (through bashcompinit) and tcsh are supported`);
      io.stdout(bashCompletion(program, globals));
    });
}

function takeGlobalsFrom(program: Command, action: Command): void {
  if (action === program) return;
  for (const option of program.options) {
    const key = option.attributeName();
    if (action.getOptionValueSource(key) === 'cli') program.setOptionValueWithSource(key, action.getOptionValue(key), 'cli');
  }
}

/** --journal: what a real run changed, also when it failed part way (the undo is part of it). */
async function writeJournal(program: Command, context: CliContext): Promise<void> {
  const { journal, dryRun } = program.opts<GlobalOptions>();
  if (!journal || dryRun || context.plan.steps.length === 0) return;
  await appendFile(journal, `${formatPlan(context.plan.steps)}\n`, { mode: 0o600 });
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const { program, context } = buildProgram(io);
  try {
    await program.parseAsync(argv);
    await writeJournal(program, context);
    // A command that ran to its end with a non-zero answer (status: a check failed) set it.
    return context.exitCode;
  } catch (error) {
    await writeJournal(program, context).catch(() => undefined);
    if (error instanceof CommanderError) {
      // Help and version end with code 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const report = describeError(error);
    if (program.opts<GlobalOptions>().json) io.stdout(`${JSON.stringify({ error: report.json })}\n`);
    io.stderr(stderrLines(report));
    return report.exitCode;
  }
}
