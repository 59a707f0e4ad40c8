/** LViT-T's text input outside training: the encoder and feature cache its run used, checked against the model. */
import type { OnnxModelInfo } from '@lvit-bench/core';
import { buildTextFeatureLookup, encoderNameForInfo, openTextEncoder } from '@lvit-bench/datasets';

/**
 * Features of `sentences` from the encoder named in the model's metadata (cache first, as training),
 * refusing an encoder that opens as something else or gives another [T, D]. `where` names the model.
 */
export async function trainedTextFeatures(
  sentences: readonly string[],
  info: OnnxModelInfo,
  where: string,
  opts: { cacheDir: string; log: (m: string) => void },
): Promise<(sentence: string) => Float32Array> {
  const trained = info.textEncoder!.name;
  const open = encoderNameForInfo(trained);
  if (!open) throw new Error(`${where}: trained with text encoder ${trained}, which cannot be opened again by name`);
  const lookup = await buildTextFeatureLookup([...sentences], () => openTextEncoder(open, { cacheDir: opts.cacheDir, log: opts.log }), { cacheDir: opts.cacheDir, log: opts.log });
  if (lookup.info.name !== trained) throw new Error(`${where}: trained with text encoder ${trained}, but '${open}' opened ${lookup.info.name} here`);
  const [t, d] = info.textShape!;
  if (lookup.shape[0] !== t || lookup.shape[1] !== d) {
    throw new Error(`${where}: expects text features [${t}, ${d}] but ${lookup.info.name} gives [${lookup.shape.join(', ')}]`);
  }
  return lookup.lookup;
}
