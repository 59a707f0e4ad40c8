import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { env } from '@huggingface/transformers';
import { BERT_FOLDER_FILES } from './bert-folder.js';
import { bertHubModelDir, openTextEncoder } from './encoder.js';
import { prepareBertTextEncoder } from './prepare.js';
import { generateTinyRandomBert } from './tiny-random-bert.js';

/*
 * A local stand-in for the hub serving the tiny random BERT as Xenova/bert-base-uncased@default:
 * checks that prepare-text-encoder's download lands where the offline 'bert' encoder looks.
 */
let root: string;
let server: Server;
let host: string;
const requests: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lvit-prepare-'));
  const modelDir = await generateTinyRandomBert(join(root, 'served'));
  // transformers.js 4.3.2 probes tokenizer_config.json at revision 'main' whatever revision is asked
  // (get_tokenizer_files); the real repo has it there too, so serve both revisions.
  const prefix = /^\/Xenova\/bert-base-uncased\/resolve\/(default|main)\//;
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = req.url ?? '';
    const file = prefix.test(url) ? join(modelDir, decodeURIComponent(url.replace(prefix, ''))) : null;
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

describe('prepareBertTextEncoder against a local hub', () => {
  test('downloads into <cacheDir>/hf-hub/Xenova/bert-base-uncased/default, then bert loads offline', async () => {
    const cacheDir = join(root, 'cache');
    const logs: string[] = [];
    // The served model is 32-d, so the final bert-base check (768-d) must refuse it, after the download.
    await expect(prepareBertTextEncoder({ cacheDir, remoteHost: host, log: (m) => logs.push(m) })).rejects.toThrow(/expected \[1, S, 768\]/);
    expect(env.allowRemoteModels).toBe(false);
    expect(requests.some((r) => r.includes('/resolve/default/onnx/model.onnx'))).toBe(true);
    const dir = bertHubModelDir(cacheDir);
    for (const f of BERT_FOLDER_FILES) expect(existsSync(join(dir, f)), f).toBe(true);

    const before = requests.length;
    const enc = await openTextEncoder('bert', { cacheDir });
    const [words] = await enc.encodeWords(['The nuclei density in the upper right is high.']);
    await enc.dispose();
    expect(words.words).toHaveLength(10);
    expect(enc.info.name).toBe('tiny-random-bert'); // labelled by its config, whatever it was opened as
    expect(requests.length).toBe(before); // offline: no request
  });
});
