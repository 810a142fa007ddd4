// One pino logger on stderr: stdout belongs to results (CNI JSON, CLI output).
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let logger: Logger | undefined;

export function configureLogger(level: LogLevel): Logger {
  logger = pino({ level, base: { name: 'jailnet' } }, pino.destination(2));
  return logger;
}

export function log(): Logger {
  return logger ?? configureLogger((process.env.JAILNET_LOG_LEVEL as LogLevel | undefined) ?? 'warn');
}
