// What a subcommand may touch: its output streams and environment, passed in so tests can capture them.

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Command {
  /** One line for `sextant help`. */
  readonly summary: string;
  /** Runs the subcommand with the arguments after its name; resolves to the process exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
