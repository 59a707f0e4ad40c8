// Compiles the native addons at install (npm ci runs this package's postinstall) where a C++
// compiler and Node's headers are found: adam.cc -> build/adam.node (the Adam pass),
// conv-filter.cc -> build/conv-filter.node (the direct dW convolution), batch-norm.cc -> build/batch-norm.node
// (training batch norm), memory.cc -> build/memory.node (array alignment) and ort-run.cc -> build/ort-run.node
// (graph runs without onnxruntime-node's output copies). Anywhere else it says why and
// the engine keeps its JS / ONNX paths. Never fails the install. Run it again by hand: node native/build.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const headerDirs = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
const compiler = ['c++', 'g++', 'clang++'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

// -ffp-contract=off for Adam: no fused multiply-adds, so its results stay bit-identical to the JS
// loop. No -march=native anywhere: a checkout copied to an older CPU must not crash on an illegal
// instruction. Adam is memory-bound (the same 65-72 ms for LViT-T's 29.9 M parameters either way);
// conv-filter.cc picks AVX-512 or AVX2 + FMA at run time through per-function target attributes.
const addons = [
  { source: 'adam.cc', flags: ['-ffp-contract=off'], fallback: 'the engine uses its JS Adam loop' },
  { source: 'conv-filter.cc', flags: [], fallback: 'the engine uses its ONNX dW formulation' },
  { source: 'batch-norm.cc', flags: [], fallback: 'the engine writes batch norm as ONNX ops' },
  { source: 'memory.cc', flags: [], fallback: 'the buffer pool hands out arrays as V8 aligns them (16 bytes)' },
  { source: 'ort-run.cc', flags: ['-ldl'], fallback: "the engine runs its graphs through onnxruntime-node's binding (one copy per output)" },
];

for (const { source, flags, fallback } of addons) {
  const out = join(here, 'build', source.replace(/\.cc$/, '.node'));
  if (process.platform === 'win32') {
    console.log(`[native] ${source} not built: Windows (${fallback})`);
  } else if (!include || !compiler) {
    console.log(`[native] ${source} not built: ${!compiler ? 'no C++ compiler (c++, g++, clang++)' : "Node's headers (node_api.h) not found in " + headerDirs.join(', ')}; ${fallback}`);
  } else {
    mkdirSync(dirname(out), { recursive: true });
    const args = ['-O3', '-std=c++17', '-shared', '-fPIC', '-pthread', `-I${include}`, join(here, source), ...flags, '-o', out];
    if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
    const r = spawnSync(compiler, args, { encoding: 'utf8' });
    console.log(r.status === 0 ? `[native] built ${out}` : `[native] ${source} not built (${compiler} failed; ${fallback}):\n${r.stderr}`);
  }
}
