#!/usr/bin/env node
/**
 * `npx lvit <command> [flags]`: one entry for the suite's commands. Each command is its own script
 * in this folder; this only dispatches, so `node scripts/dist/<command>.js` works the same.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMANDS: Record<string, string> = {
  reproduce: 'run the experiment matrix of a profile and build the report',
  report: 'rebuild the HTML report from existing results',
  bench: 'print kernel GFLOPS and train-step times per backend',
  'prepare-data': 'decode, resize and cache a dataset; print a summary',
  'prepare-text-encoder': 'download bert-base-uncased once (needs hub access)',
  export: "write a run's best checkpoint as an ONNX inference model",
  predict: 'segment images with an exported ONNX model',
};

const [command, ...args] = process.argv.slice(2);
if (!command || !(command in COMMANDS)) {
  const list = Object.entries(COMMANDS)
    .map(([name, what]) => `  ${name.padEnd(22)}${what}`)
    .join('\n');
  console.error(`${command ? `Unknown command '${command}'.\n` : ''}Usage: npx lvit <command> [flags]  (--help after a command for its flags)\n${list}`);
  process.exit(command ? 1 : 0);
}
const script = join(dirname(fileURLToPath(import.meta.url)), `${command}.js`);
const child = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
process.exit(child.status ?? 1);
