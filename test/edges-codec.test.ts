import { describe } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { focusedEdgeTests } from './edges/focused.js';
import { propertyEdgeTest } from './edges/property.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Issue 12 at the writer's and reader's edges, on every database (DISTCACHE_DIALECTS selects). */
for (const dialect of selectedDialects()) {
  describe(`edges: ${dialect}`, { skip: await availability(dialect) }, () => {
    focusedEdgeTests(dialect);
    propertyEdgeTest(dialect, Number(process.env.DISTCACHE_EDGE_RUNS ?? 60));
  });
}
