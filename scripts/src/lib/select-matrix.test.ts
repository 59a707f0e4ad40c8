import { describe, expect, it } from 'vitest';
import { getProfile } from '../configs/profiles.js';
import { selectMatrix } from './reproduce.js';
import { dependenciesOf } from './shard.js';
import { runIdOf, type RunSpec } from './run.js';

describe('selectMatrix', () => {
  const quick = getProfile('quick');
  const id = (s: RunSpec) => runIdOf('quick', s);

  it('puts every run after the runs it starts from, whatever order --models lists them in', () => {
    const matrix = selectMatrix(quick, { models: 'lvit-t+epi+lv,lvit-t,unet', 'unet-init': true, datasets: 'monuseg', fractions: '25' });
    const order = matrix.map(id);
    let checked = 0;
    for (const spec of matrix)
      for (const dep of dependenciesOf(spec)) {
        expect(order.indexOf(id(dep)), `${id(spec)} after ${id(dep)}`).toBeLessThan(order.indexOf(id(spec)));
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(6); // per seed: lvit-t on its U-Net, the semi run on its prototype
  });
});
