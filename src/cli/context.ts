// What every CLI command shares: the global options, the loaded config, and output
// that is human text by default and JSON with --json.
import { loadConfig, type JailnetConfig } from '../config/jailnet-conf.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { defaultConfigFile } from '../platform.js';

export interface GlobalOptions {
  config?: string;
  host?: string;
  logLevel: string;
  json: boolean;
}

export interface CliContext {
  config(): Promise<JailnetConfig>;
  /** The host driver chosen by --host, JAILNET_HOST or the OS. */
  host(): Host;
  /** Prints `data` as JSON with --json, otherwise the text `human()` returns (nothing when empty). */
  print(data: unknown, human: () => string): void;
}

export function createContext(globals: () => GlobalOptions, write: (text: string) => void): CliContext {
  let loaded: Promise<JailnetConfig> | undefined;
  let driver: Host | undefined;
  return {
    host() {
      driver ??= hostFromOptions(globals().host).host;
      return driver;
    },
    config() {
      loaded ??= loadConfig(globals().config, process.env.JAILNET_CONFIG ?? defaultConfigFile());
      return loaded;
    },
    print(data, human) {
      if (globals().json) {
        write(`${JSON.stringify(data)}\n`);
        return;
      }
      const text = human();
      if (text !== '') write(`${text}\n`);
    },
  };
}
