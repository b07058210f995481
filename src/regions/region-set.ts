import type { Region } from './region.js';
import type { RegionStats } from './stats.js';

/** The regions of one DistributedCache, switched together by its lifecycle. */
export class RegionSet {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly regions: Region<any>[] = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  add(region: Region<any>): void {
    this.regions.push(region);
  }

  /** On after every successful sync (the log is being applied), off at stop(). */
  setStoring(storing: boolean): void {
    for (const region of this.regions) region.setStoring(storing);
  }

  /** A cold boot: every region empties and discards its loads, whatever onColdBoot does. */
  invalidateAll(): void {
    for (const region of this.regions) region.invalidateAll();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get(id: string): Region<any> | undefined {
    return this.regions.find((r) => r.id === id);
  }

  ids(): string[] {
    return this.regions.map((r) => r.id);
  }

  stats(): RegionStats[] {
    return this.regions.map((r) => r.stats());
  }

  get size(): number {
    return this.regions.length;
  }
}
