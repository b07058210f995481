/**
 * Where the next page of a window resumes: the window's target snapshot and the last (txid, id)
 * read. Opaque to the poller, which only hands it back.
 */
export interface PageToken {
  target: string;
  txid: string;
  id: string;
}

export function encodeToken(token: PageToken): string {
  return JSON.stringify([token.target, token.txid, token.id]);
}

export function decodeToken(text: string): PageToken {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((p) => typeof p === 'string')) {
    throw new Error(`not a postgres page token: ${text.slice(0, 100)}`);
  }
  const [target, txid, id] = parsed as [string, string, string];
  return { target, txid, id };
}
