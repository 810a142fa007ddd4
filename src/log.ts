// One pino logger on stderr: stdout belongs to results (CNI JSON, CLI output).
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let logger: Logger | undefined;

export function configureLogger(level: LogLevel): Logger {
  // Written at once: a daemon's lines must not wait in a buffer, nor be lost with a crash.
  logger = pino({ level, base: { name: 'jailnet' } }, pino.destination({ dest: 2, sync: true }));
  return logger;
}

export function log(): Logger {
  return logger ?? configureLogger((process.env.JAILNET_LOG_LEVEL as LogLevel | undefined) ?? 'warn');
}
