// Public API of @sextant/cli.
export { runCli } from './cli.ts';
export { commands } from './commands.ts';
export { CliError, errorCodes } from './errors.ts';
export type { CliErrorCode } from './errors.ts';
export { chartDir, renderChart } from './helm.ts';
export type { K8sObject, RenderOptions } from './helm.ts';
export type { CliIo, Command } from './io.ts';
export { networkPolicyFiles } from './networkpolicies.ts';
export type { PolicyFile } from './networkpolicies.ts';
export { collectPrivileges, formatPrivileges } from './privileges.ts';
export type { Privilege, PrivilegeKind } from './privileges.ts';
export { sextantVersion } from './version.ts';
