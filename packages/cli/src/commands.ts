// The subcommands of `sextant`. Each entry is one `sextant <name> ...`.
//
// Component and demo subcommands are added here by their packages' owners, one line each, e.g.
//   'node-collector': nodeCollectorCommand,   // from @sextant/node-collector: runs the DaemonSet agent
//   enrichment: enrichmentCommand,            // from @sextant/enrichment
//   'trace-receiver': traceReceiverCommand,   // from @sextant/trace-receiver
//   demo: demoCommand,                        // the local end-to-end demo
// The chart runs the image as `sextant <component> --config /etc/sextant/config.yaml`.
import { enrichmentCommand, nodeCollectorCommand, traceReceiverCommand } from './components.ts';
import { demoCommand } from './demo/command.ts';
import type { Command } from './io.ts';
import { networkPoliciesCommand } from './networkpolicies.ts';
import { privilegesCommand } from './privileges.ts';
import { versionCommand } from './version.ts';

export const commands: ReadonlyMap<string, Command> = new Map<string, Command>([
  // --- component subcommands (src/components.ts; each imports its package only when it runs) ---
  ['node-collector', nodeCollectorCommand],
  ['enrichment', enrichmentCommand],
  ['trace-receiver', traceReceiverCommand],
  ['demo', demoCommand], // the local end-to-end demo (src/demo/)
  // --- tools ---
  ['privileges', privilegesCommand],
  ['networkpolicies', networkPoliciesCommand],
  ['version', versionCommand],
]);
