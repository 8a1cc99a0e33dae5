// The `sextant` dispatcher: picks the subcommand, runs it, turns coded errors into exit codes.
import { commands } from './commands.ts';
import { CliError } from './errors.ts';
import type { CliIo } from './io.ts';

function help(): string {
  const width = Math.max(...[...commands.keys()].map((k) => k.length));
  const lines = [...commands].map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: sextant <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "sextant <command> --help" for a command's options.\n`;
}

/** Runs `sextant <argv...>` and resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(help());
    return name === undefined ? 2 : 0;
  }
  try {
    const command = commands.get(name);
    if (!command) throw new CliError('SEXTANT_CLI_UNKNOWN_COMMAND', `unknown command "${name}"; valid commands: ${[...commands.keys()].join(', ')}`);
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`sextant: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
