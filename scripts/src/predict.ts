/**
 * CLI: segment images with a model written by `lvit export`.
 *   npx lvit predict --model model.onnx --images DIR|FILE... [--text CSV | --sentence "..."] [--masks DIR] --out DIR
 */
import { resolve } from 'node:path';
import { resolveCacheDir } from '@lvit-bench/datasets';
import { parseFlags, stringFlag } from './lib/args.js';
import { IMAGE_EXTENSIONS, predict, PREDICTIONS_CSV } from './lib/predict.js';

const FLAGS = { model: 'string', text: 'string', sentence: 'string', 'text-encoder': 'string', masks: 'string', out: 'string', 'cache-dir': 'string', help: 'boolean' } as const;

const USAGE = `Usage: npx lvit predict --model FILE --images DIR|FILE... [--text CSV | --sentence "..."] [--masks DIR] --out DIR
  --model FILE          an .onnx file written by \`npx lvit export\`
  --images DIR|FILE...  image files (${IMAGE_EXTENSIONS.join(' ')}, any size, grey/RGB/RGBA) and folders of them
  --sentence "..."      LViT-T: the report sentence for every image
  --text CSV            LViT-T: a table with columns image (file name) and text, e.g. a dataset's text.csv
  --text-encoder NAME   optional; refused unless it is the encoder the model was trained with
  --masks DIR           ground truth by file name: adds Dice/IoU (at the model size, as the run's evaluation)
  --out DIR             writes <name>.mask.png, <name>.overlay.png (at each image's size) and ${PREDICTIONS_CSV}
  --cache-dir DIR       text encoder and feature cache (default: the one training used)`;

/** `--images a b c --out x` -> the image arguments and the remaining flags. */
function splitImages(argv: string[]): { images: string[]; rest: string[] } {
  const images: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--images') {
      rest.push(argv[i]);
      continue;
    }
    while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) images.push(argv[++i]);
  }
  return { images, rest };
}

async function main(argv: string[]): Promise<number> {
  const { images, rest } = splitImages(argv);
  const flags = parseFlags(rest, FLAGS);
  if (flags.help === true) {
    console.log(USAGE);
    return 0;
  }
  const model = stringFlag(flags, 'model');
  const out = stringFlag(flags, 'out');
  if (!model || !out || images.length === 0) throw new Error(`--model, --images and --out are required\n${USAGE}`);
  const log = (m: string) => console.error(`[predict] ${m}`);
  const rows = await predict({
    model: resolve(model),
    images,
    sentence: stringFlag(flags, 'sentence'),
    textCsv: stringFlag(flags, 'text'),
    textEncoder: stringFlag(flags, 'text-encoder'),
    masks: stringFlag(flags, 'masks'),
    out: resolve(out),
    cacheDir: resolveCacheDir(stringFlag(flags, 'cache-dir')),
    log,
  });
  const failed = rows.filter((r) => r.error);
  const scored = rows.filter((r) => r.dice !== undefined);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const score = scored.length ? `; mean per-image Dice ${(100 * mean(scored.map((r) => r.dice!))).toFixed(2)} IoU ${(100 * mean(scored.map((r) => r.iou!))).toFixed(2)} over ${scored.length}` : '';
  console.log(`[predict] ${rows.length - failed.length}/${rows.length} image(s) -> ${out}/${PREDICTIONS_CSV}${score}`);
  for (const r of failed) console.error(`[predict] ${r.error}`);
  return failed.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`[predict] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
