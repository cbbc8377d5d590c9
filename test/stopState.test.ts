import t from 'tap';
import { StopState, type StopPhase } from '../pipeline/stopState.js';

const walk = (...moves: StopPhase[]): boolean[] => {
  const state = new StopState();
  return moves.map((m) => state.move(m));
};

t.test('a graceful stop runs through its phases once', async (t) => {
  t.same(walk('draining', 'draining', 'finishing', 'releasing', 'stopped'), [true, false, true, true, true]);
});

t.test('a second stop abandons a drain, but not a failure', async (t) => {
  t.same(walk('draining', 'abandoning', 'finishing', 'stopped'), [true, true, false, true], 'the chain ending after abandoning changes nothing');
  t.same(walk('failing', 'abandoning', 'draining', 'stopped'), [true, false, false, true]);
});

t.test('nothing leaves stopped', async (t) => {
  const state = new StopState();
  state.move('failing');
  state.move('stopped');
  for (const p of ['running', 'draining', 'finishing', 'abandoning', 'failing', 'releasing'] as const) t.notOk(state.move(p), p);
  t.equal(state.phase, 'stopped');
});
