import { describe, expect, it } from 'vitest';
import { bareSideBySideAsAll, parseOptions, parseSideBySide, SIDE_BY_SIDE } from './options.js';

describe('--side-by-side', () => {
  it('bare (last, or before another flag) means all comparisons', () => {
    expect(parseOptions(['--side-by-side'])!.sideBySide).toEqual([...SIDE_BY_SIDE]);
    expect(parseOptions(['--side-by-side', '--reps', '1'])!.sideBySide).toEqual([...SIDE_BY_SIDE]);
    expect(parseOptions(['--side-by-side=all'])!.sideBySide).toEqual([...SIDE_BY_SIDE]);
    expect(bareSideBySideAsAll(['--backend', 'onnxruntime', '--side-by-side'])).toEqual(['--backend', 'onnxruntime', '--side-by-side=all']);
  });

  it('takes a list, in the order given', () => {
    const opts = parseOptions(['--backend', 'onnxruntime', '--side-by-side', 'lvit-full,unet16', '--reps', '1'])!;
    expect(opts.sideBySide).toEqual(['lvit-full', 'unet16']);
    expect(opts.reps).toBe(1);
    expect(parseOptions(['--side-by-side=unet-full'])!.sideBySide).toEqual(['unet-full']);
  });

  it('is absent from a whole bench run', () => {
    const opts = parseOptions(['--quick'])!;
    expect(opts.sideBySide).toBeUndefined();
    expect(opts.torch).toBe(true);
  });

  it('rejects unknown and repeated names, and --no-torch', () => {
    expect(() => parseSideBySide('unet16,unet32')).toThrow(/unknown --side-by-side 'unet32'/);
    expect(() => parseSideBySide('unet16,unet16')).toThrow(/more than once/);
    expect(() => parseSideBySide('all,unet16')).toThrow(/unknown --side-by-side 'all'/);
    expect(() => parseOptions(['--side-by-side', 'unet16', '--no-torch'])).toThrow(/exclude each other/);
  });

  it('the child mode takes exactly one name', () => {
    expect(parseOptions(['--child-side-by-side', 'lvit-full'])!.childSideBySide).toBe('lvit-full');
    expect(() => parseOptions(['--child-side-by-side', 'all'])).toThrow(/unknown --child-side-by-side 'all'/);
    expect(() => parseOptions(['--child-side-by-side', 'unet16,unet-full'])).toThrow(/takes one name/);
  });
});
