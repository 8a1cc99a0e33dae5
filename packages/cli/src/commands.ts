// The subcommands of `sextant`. Each entry is one `sextant <name> ...`.
//
// Component and demo subcommands are added here by their packages' owners, one line each, e.g.
//   'node-collector': nodeCollectorCommand,   // from @sextant/node-collector: runs the DaemonSet agent
//   enrichment: enrichmentCommand,            // from @sextant/enrichment
//   'trace-receiver': traceReceiverCommand,   // from @sextant/trace-receiver
//   demo: demoCommand,                        // the local end-to-end demo
// The chart runs the image as `sextant <component> --config /etc/sextant/config.yaml`.
import { enrichmentCommand, nodeCollectorCommand, traceReceiverCommand } from './components.ts';
import type { CliIo, Command } from './io.ts';
import { networkPoliciesCommand } from './networkpolicies.ts';
import { privilegesCommand } from './privileges.ts';
import { versionCommand } from './version.ts';

// The demo imports @sextant/pipeline, the OTel SDK and more (about 0.7 s, measured): load it only when it runs, so that
// `sextant version` and the components (the node collector's start-up time matters) do not pay for it.
const lazyDemoCommand: Command = {
  summary: 'run the whole pipeline locally, with no cluster (logs, metrics, traces → OTLP/JSON files)',
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { demoCommand } = await import('./demo/command.ts');
    return demoCommand.run(args, io);
  },
};

export const commands: ReadonlyMap<string, Command> = new Map<string, Command>([
  // --- component subcommands (src/components.ts; each imports its package only when it runs) ---
  ['node-collector', nodeCollectorCommand],
  ['enrichment', enrichmentCommand],
  ['trace-receiver', traceReceiverCommand],
  ['demo', lazyDemoCommand], // the local end-to-end demo (src/demo/)
  // --- tools ---
  ['privileges', privilegesCommand],
  ['networkpolicies', networkPoliciesCommand],
  ['version', versionCommand],
]);
