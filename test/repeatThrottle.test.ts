import t from 'tap';
import { repeatThrottle } from '../pipeline/core/repeatThrottle.js';

t.test('the first of a kind passes, repeats within the window are held and counted on the next pass', async (t) => {
  let clock = 0;
  const pass = repeatThrottle(1000, () => clock);
  t.equal(pass('down'), 0, 'first one passes, nothing held');
  clock = 100;
  t.equal(pass('down'), undefined, 'a repeat inside the window is held');
  clock = 999;
  t.equal(pass('down'), undefined);
  t.equal(pass('other'), 0, 'another kind has a window of its own');
  clock = 1000;
  t.equal(pass('down'), 2, 'after the window: passes, saying two were held');
  clock = 1500;
  t.equal(pass('down'), undefined, 'the window restarts from the last pass');
  clock = 5000;
  t.equal(pass('down'), 1);
  t.equal(pass('down'), undefined);
});
