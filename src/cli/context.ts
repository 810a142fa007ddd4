// What every CLI command shares: the global options, the loaded config, and output
// that is human text by default and JSON with --json.
import { loadConfig, type JailnetConfig } from '../config/jailnet-conf.js';
import { defaultConfigFile } from '../platform.js';

export interface GlobalOptions {
  config?: string;
  logLevel: string;
  json: boolean;
}

export interface CliContext {
  config(): Promise<JailnetConfig>;
  /** Prints `data` as JSON with --json, otherwise the text `human()` returns (nothing when empty). */
  print(data: unknown, human: () => string): void;
}

export function createContext(globals: () => GlobalOptions, write: (text: string) => void): CliContext {
  let loaded: Promise<JailnetConfig> | undefined;
  return {
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
