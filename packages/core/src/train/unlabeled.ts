import type { SegSplit, UnlabeledSplit } from '../types.js';

/**
 * `split` as unlabelled images: only `image()` and `text()` are reachable, so nothing handed this
 * view can read a mask (SEMI.md: an unlabelled image's mask is never read in training).
 */
export function unlabeledView(split: SegSplit): UnlabeledSplit {
  return {
    dataset: split.dataset,
    split: split.split,
    size: split.size,
    height: split.height,
    width: split.width,
    channels: split.channels,
    ids: [...split.ids],
    image: (index) => split.image(index),
    text: (index) => split.text(index),
  };
}
