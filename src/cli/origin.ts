import { operatorOrigin } from '../admin/origin.js';

/** The label of rows written with `distcache send`: `cli:<user>@<host>`. */
export function cliOrigin(): string {
  return operatorOrigin('cli');
}
