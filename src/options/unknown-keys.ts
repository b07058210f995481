import { closest } from '../suggest.js';
import { invalid } from './checks.js';

/** Refuses a misspelled option with a did-you-mean, and lists the options there are; `what` names the nesting ('health'). */
export function refuseUnknown(what: string, given: object, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    invalid(
      what ? `${what}.${key}` : key,
      `unknown option${guess ? `; did you mean '${guess}'?` : '.'} The options are: ${known.join(', ')}`,
    );
  }
}
