import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bertHubModelDir, openTextEncoder } from './encoder.js';
import { prepareBertTextEncoder } from './prepare.js';
import { generateTinyRandomBert } from './tiny-random-bert.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lvit-text-encoder-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('openTextEncoder without BERT', () => {
  test("'bert' fails with how to get it and no substitute", async () => {
    const cacheDir = join(root, 'empty');
    const err = await openTextEncoder('bert', { cacheDir }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const msg = err!.message;
    expect(msg).toContain(bertHubModelDir(cacheDir));
    expect(msg).toMatch(/lacks config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/model\.onnx/);
    expect(msg).toContain('npx lvit prepare-text-encoder');
    expect(msg).toContain("Xenova/bert-base-uncased (revision 'default'");
    expect(msg).toMatch(/copy a folder holding config\.json, tokenizer\.json, tokenizer_config\.json and onnx\/model\.onnx/);
    expect(msg).toMatch(/No substitute is used when 'bert' is asked for explicitly/);
  });

  test("'auto' says which substitute it uses and returns use-lite (without starting it)", async () => {
    const logs: string[] = [];
    const enc = await openTextEncoder('auto', { cacheDir: join(root, 'empty'), log: (m) => logs.push(m) });
    expect(enc.info).toMatchObject({ name: 'use-lite', substitute: true, dim: 512 });
    expect(logs.join('\n')).toMatch(/Using the substitute use-lite meanwhile .*NOT BERT/);
    expect(logs.join('\n')).not.toContain('starting the use-lite worker');
    await enc.dispose();
  });

  test("'auto' with an explicit but incomplete folder is an error, not a silent swap", async () => {
    await expect(openTextEncoder('auto', { modelDir: join(root, 'nowhere') })).rejects.toThrow(/this model folder was given explicitly/);
  });

  test("'bert' on a generated random folder is labelled random, not bert-base-uncased", async () => {
    const modelDir = await generateTinyRandomBert(join(root, 'tiny'));
    const enc = await openTextEncoder('bert', { modelDir });
    expect(enc.info).toMatchObject({ name: 'tiny-random-bert', pretrained: false, substitute: true });
    await enc.dispose();
  });

  test('unknown names list the valid ones', async () => {
    await expect(openTextEncoder('glove' as never)).rejects.toThrow(/choose one of auto, bert, use-lite, tiny-random-bert/);
  });

  test('prepareBertTextEncoder without hub access fails with a clear message', async () => {
    // A closed local port stands in for "no hub", so the test never downloads 440 MB where a hub is reachable.
    const port = await closedPort();
    const err = await prepareBertTextEncoder({ cacheDir: join(root, 'prep'), remoteHost: `http://127.0.0.1:${port}` }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/could not download Xenova\/bert-base-uncased \(revision 'default'\): .*ECONNREFUSED/);
    expect(err!.message).toContain(`needs access to http://127.0.0.1:${port}/`);
    expect(err!.message).toContain('copy a folder holding config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx');
  });
});

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
