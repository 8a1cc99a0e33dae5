// `sextant version`: the CLI's version (from its package.json) and the Node runtime it runs on.
import { readFileSync } from 'node:fs';
import type { CliIo, Command } from './io.ts';

/** The version of @sextant/cli, which is the version of the sextant image. */
export function sextantVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand: Command = {
  summary: 'print the sextant version and the Node.js version',
  run(_args: readonly string[], io: CliIo): Promise<number> {
    io.stdout(`sextant ${sextantVersion()} (node ${process.version})\n`);
    return Promise.resolve(0);
  },
};
