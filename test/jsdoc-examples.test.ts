import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allExamples, checkExamples } from '../scripts/check-examples.js';

// The JSDoc @example blocks of src/ are compiled, as kysely does, so an example cannot name what
// does not exist (a `prismaExecutor` once did). One program holds every example of src/ and two
// planted wrong ones: exactly the planted ones must fail. `node dist/scripts/check-examples.js`
// runs the same check alone and lists the errors.

test('every JSDoc @example in src/ type-checks, and a planted wrong example is caught', () => {
  const examples = allExamples();
  assert.ok(examples.length >= 20, `the examples of src/ were found (${examples.length})`);
  const planted = [
    { file: 'planted/missing-export.ts', line: 1, code: "import { prismaExecutor } from 'distcache/executors';\nvoid prismaExecutor;" },
    { file: 'planted/wrong-option.ts', line: 1, code: "role: 'leader'" },
  ];
  const problems = checkExamples([...examples, ...planted]);
  const outside = problems.filter((p) => !p.startsWith('planted/'));
  assert.deepEqual(outside, [], 'the examples of src/ type-check');
  assert.ok(
    problems.some((p) => p.startsWith('planted/missing-export.ts') && /prismaExecutor/.test(p)),
    `the missing export is caught: ${problems.join('; ')}`,
  );
  assert.ok(
    problems.some((p) => p.startsWith('planted/wrong-option.ts')),
    `the wrong option value is caught: ${problems.join('; ')}`,
  );
});
