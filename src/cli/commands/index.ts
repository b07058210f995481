import type { Command } from '../command.js';
import { actionsCommand } from './actions.js';
import { dashboardCommand } from './dashboard.js';
import { failuresCommand } from './failures.js';
import { migrateCommand } from './migrate.js';
import { pendingCommand } from './pending.js';
import { pruneCommand } from './prune.js';
import { resyncCommand } from './resync.js';
import { sendCommand } from './send.js';
import { serversCommand } from './servers.js';
import { showCommand } from './show.js';
import { statusCommand } from './status.js';
import { tailCommand } from './tail.js';
import { triggerCommand } from './trigger.js';

/** Every command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  migrateCommand,
  statusCommand,
  pendingCommand,
  showCommand,
  tailCommand,
  sendCommand,
  resyncCommand,
  pruneCommand,
  failuresCommand,
  actionsCommand,
  serversCommand,
  triggerCommand,
  dashboardCommand,
];
