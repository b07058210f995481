/**
 * Per-process sharing of one expensive resource (a listener connection, a file watch) by key,
 * counted by users: the first `acquire` creates it, the last `release` closes it.
 */
export class SharedResources<R extends { close(): Promise<void> }> {
  private readonly entries = new Map<string, { resource: R; users: number }>();

  acquire(key: string, create: () => R): R {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { resource: create(), users: 0 }));
    entry.users += 1;
    return entry.resource;
  }

  /** Closes the resource when this was its key's last user. */
  async release(key: string, resource: R): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry || entry.resource !== resource) return;
    entry.users -= 1;
    if (entry.users > 0) return;
    this.entries.delete(key);
    await resource.close();
  }

  /** How many resources are open; tests check that none leaks. */
  get size(): number {
    return this.entries.size;
  }
}
