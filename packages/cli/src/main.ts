#!/usr/bin/env node
// Entry point of the `sextant` command (the image's ENTRYPOINT runs this file).
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
