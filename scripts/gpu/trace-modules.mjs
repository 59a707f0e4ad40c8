// Prints, one per line, every file under node_modules that the GPU checks load (pack.sh copies just
// these into the pack): the modules each check imports at start-up, plus the GPU-only ones (npm
// webgpu's Dawn binding, tfjs-backend-webgpu, onnxruntime-node's binding) that a machine without
// an adapter never reaches. ESM imports are seen by a resolve hook, CommonJS ones in require.cache;
// each package's package.json comes along (Node reads it to resolve the package).
import { appendFileSync, existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? '.');
const log = join(tmpdir(), `lvit-trace-${process.pid}.txt`);
const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (r.url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const entries = ['scripts/dist/gpu/checks.js', 'scripts/dist/gpu/in-process.js', 'scripts/dist/bench.js', 'scripts/dist/lib/reproduce.js'];
for (const e of entries) await import(pathToFileURL(join(root, e)).href);
const req = createRequire(join(root, 'packages/core/package.json'));
for (const m of ['webgpu', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-node/dist/binding']) req(m);

const files = new Set([...Object.keys(req.cache), ...(existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((u) => fileURLToPath(u)) : [])]);
rmSync(log, { force: true });
const modules = realpathSync(join(root, 'node_modules'));
const out = new Set();
for (const f of files) {
  const real = existsSync(f) ? realpathSync(f) : f;
  if (!real.startsWith(modules + '/')) continue;
  out.add(real.slice(root.length + 1));
  for (let d = dirname(real); d.length > modules.length; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) out.add(join(d, 'package.json').slice(root.length + 1));
  }
}
process.stdout.write([...out].sort().join('\n') + '\n');
