/**
 * The one place that may reach the Hugging Face hub: download bert-base-uncased
 * (Xenova/bert-base-uncased, revision 'default', fp32 ONNX) into transformers.js' file cache under
 * `<cacheDir>/hf-hub`, check it runs, and switch remote loading off again. Later runs load it
 * offline through `openTextEncoder('bert' | 'auto')`.
 */
import { AutoModel, AutoTokenizer, env } from '@huggingface/transformers';
import { BERT_FOLDER_FILES } from './bert-folder.js';
import { BERT_HUB_MODEL_ID, BERT_HUB_REVISION, bertHubModelDir, locateBertModel, textEncoderHubCacheDir } from './encoder.js';

const HEADERS_TIMEOUT_MS = 30_000;
const CHECK_SENTENCE = 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.';

export interface PrepareTextEncoderResult {
  dir: string;
  /** True when the files were already there (nothing downloaded). */
  alreadyPresent: boolean;
}

export interface PrepareTextEncoderOptions {
  cacheDir?: string;
  /** Hub mirror (default: env HF_ENDPOINT, else transformers.js' https://huggingface.co/). */
  remoteHost?: string;
  log?: (message: string) => void;
}

export async function prepareBertTextEncoder(opts: PrepareTextEncoderOptions = {}): Promise<PrepareTextEncoderResult> {
  const log = opts.log ?? (() => undefined);
  const dir = bertHubModelDir(opts.cacheDir);
  if (locateBertModel({ cacheDir: opts.cacheDir }).missing.length === 0) {
    log(`${BERT_HUB_MODEL_ID} (revision '${BERT_HUB_REVISION}') is already in ${dir}`);
    return { dir, alreadyPresent: true };
  }
  const saved = { cacheDir: env.cacheDir, useFSCache: env.useFSCache, fetch: env.fetch, remoteHost: env.remoteHost };
  const remoteHost = opts.remoteHost ?? process.env.HF_ENDPOINT;
  if (remoteHost) env.remoteHost = remoteHost.endsWith('/') ? remoteHost : `${remoteHost}/`;
  env.allowRemoteModels = true;
  env.useFSCache = true;
  env.cacheDir = textEncoderHubCacheDir(opts.cacheDir);
  env.fetch = fetchWithHeadersTimeout(saved.fetch);
  log(`downloading ${BERT_HUB_MODEL_ID} (revision '${BERT_HUB_REVISION}', fp32 ONNX, about 440 MB) from ${env.remoteHost} into ${env.cacheDir}`);
  try {
    const progress_callback = progressLogger(log);
    const tokenizer = await AutoTokenizer.from_pretrained(BERT_HUB_MODEL_ID, { revision: BERT_HUB_REVISION, progress_callback });
    const model = await AutoModel.from_pretrained(BERT_HUB_MODEL_ID, { revision: BERT_HUB_REVISION, dtype: 'fp32', progress_callback });
    const out = (await model(tokenizer([CHECK_SENTENCE]))) as Record<string, { dims: number[] }>;
    const dims = out.last_hidden_state?.dims;
    await model.dispose();
    if (!dims || dims[2] !== 768) throw new Error(`the downloaded model gives ${dims ? `[${dims}]` : 'no last_hidden_state'}, expected [1, S, 768]`);
    log(`check passed: last_hidden_state [${dims}] for "${CHECK_SENTENCE}"`);
  } catch (err) {
    throw new Error(
      `could not download ${BERT_HUB_MODEL_ID} (revision '${BERT_HUB_REVISION}'): ${describeError(err).replace(/\.$/, '')}.\n` +
        `This step needs access to ${env.remoteHost} (the Hugging Face hub; a mirror can be set with HF_ENDPOINT). Without it, copy a folder holding ` +
        `${BERT_FOLDER_FILES.join(', ')} (from a machine where this step worked) to ${dir}, or pass it as the text model folder. ` +
        "Until then the 'auto' text encoder uses the use-lite substitute (not BERT).",
    );
  } finally {
    Object.assign(env, saved, { allowRemoteModels: false });
  }
  const missing = locateBertModel({ cacheDir: opts.cacheDir }).missing;
  if (missing.length > 0) {
    throw new Error(`downloaded ${BERT_HUB_MODEL_ID}, but ${dir} still lacks ${missing.join(', ')}: the transformers.js cache layout may have changed`);
  }
  return { dir, alreadyPresent: false };
}

/** A stalled connection fails after 30 s; a slow download (headers already in) is left alone. */
function fetchWithHeadersTimeout(inner: typeof env.fetch): typeof env.fetch {
  return async (input, init = {}) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no response within ${HEADERS_TIMEOUT_MS / 1000} s`)), HEADERS_TIMEOUT_MS);
    try {
      return await inner(input, { ...init, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  };
}

function progressLogger(log: (m: string) => void): (data: unknown) => void {
  const lastTenth = new Map<string, number>();
  return (data) => {
    const d = data as { status?: string; file?: string; progress?: number };
    if (d.status !== 'progress' || !d.file || typeof d.progress !== 'number') return;
    const tenth = Math.floor(d.progress / 10);
    if (tenth > (lastTenth.get(d.file) ?? -1)) {
      lastTenth.set(d.file, tenth);
      log(`  ${d.file}: ${Math.min(100, tenth * 10)}%`);
    }
  };
}

/** The innermost useful reason (fetch wraps ENOTFOUND and friends in `cause`). */
function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { message?: string; code?: string; cause?: unknown };
    const message = x.message ?? String(e);
    const text = x.code && !message.includes(x.code) ? `${message} (${x.code})` : message;
    if (text && !parts.includes(text)) parts.push(text);
    e = x.cause;
  }
  return parts.join(': ') || String(err);
}
