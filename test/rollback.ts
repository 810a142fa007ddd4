// Rollback of a plugin's steps: undone newest first, past failures, and an undo that
// fails is reported with the error the caller sees, never swallowed.
import t from 'tap';
import { CniError, ErrorCode } from '../src/cni/errors.js';
import { Rollback } from '../src/plugins/rollback.js';

t.test('a failed step undoes the earlier ones, newest first, and rethrows its error', async (t) => {
  const undone: string[] = [];
  const failure = new CniError(ErrorCode.InvalidConfig, 'step three failed', 'why');
  await t.rejects(
    Rollback.run(async (rollback) => {
      await rollback.step('one', async () => 1, async () => void undone.push('one'));
      await rollback.step('two', async () => 2, async () => void undone.push('two'));
      await rollback.step('three', async () => {
        throw failure;
      });
    }),
    failure,
  );
  t.same(undone, ['two', 'one']);
});

t.test('an undo that fails is named in the error, and the others still run', async (t) => {
  const undone: string[] = [];
  const error = await Rollback.run(async (rollback) => {
    await rollback.step('lease', async () => 1, async () => void undone.push('lease'));
    await rollback.step('interface', async () => 2, async () => {
      throw new Error('ifconfig: SIOCIFDESTROY: Device busy');
    });
    throw new CniError(ErrorCode.InvalidConfig, 'address taken');
  }).catch((e: unknown) => e as CniError);
  t.same(undone, ['lease'], 'the undo after the failing one ran');
  t.equal(error.code, ErrorCode.InvalidConfig, 'the caller sees the original code');
  t.equal(error.message, 'address taken');
  t.match(error.details, /undoing it failed: interface: ifconfig: SIOCIFDESTROY: Device busy/);
});
