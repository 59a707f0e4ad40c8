/**
 * `npx lvit prepare-text-encoder` (or: node scripts/dist/prepare-text-encoder.js [flags]): download
 * LViT's text encoder, bert-base-uncased (Xenova/bert-base-uncased, revision 'default', fp32 ONNX,
 * ~440 MB), into the hub cache `<cache-dir>/hf-hub`, once, on a machine with Hugging Face hub access.
 * Every later run loads it offline (the 'auto' and 'bert' text encoders); without it, 'auto' uses the
 * use-lite substitute. This is the only command of the suite that contacts the hub.
 */
import { resolve } from 'node:path';
import { BERT_FOLDER_FILES, bertHubModelDir, prepareBertTextEncoder } from '@lvit-bench/datasets';
import { parseFlags, stringFlag } from './lib/args.js';

const FLAGS = {
  'cache-dir': 'string',
  'remote-host': 'string',
  help: 'boolean',
} as const;

const USAGE = `Usage: npx lvit prepare-text-encoder [flags]   (or: node scripts/dist/prepare-text-encoder.js [flags])
  Downloads Xenova/bert-base-uncased (revision 'default', fp32 ONNX, ~440 MB) into <cache-dir>/hf-hub
  so that training and evaluation load BERT offline. Needs Hugging Face hub access once.
  --cache-dir DIR     the suite's cache folder (env LVIT_CACHE_DIR; default <repo>/.cache)
  --remote-host URL   a hub mirror (env HF_ENDPOINT; default https://huggingface.co/)
  Offline alternative: copy a folder holding ${BERT_FOLDER_FILES.join(', ')}
  to <cache-dir>/hf-hub/Xenova/bert-base-uncased/default/.`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const cacheFlag = stringFlag(flags, 'cache-dir');
  const cacheDir = cacheFlag ? resolve(cacheFlag) : undefined;
  const log = (msg: string) => console.log(`[prepare-text-encoder] ${msg}`);
  const result = await prepareBertTextEncoder({ cacheDir, remoteHost: stringFlag(flags, 'remote-host'), log });
  log(`${result.alreadyPresent ? 'already present' : 'ready'}: ${bertHubModelDir(cacheDir)}`);
  log("the 'auto' and 'bert' text encoders now load BERT-base uncased offline from there");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[prepare-text-encoder] ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
