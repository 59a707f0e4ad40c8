// Compiles native/adam.cc into native/build/adam.node at install (npm ci runs this package's
// postinstall), where a C++ compiler and Node's headers are found; anywhere else it says why and the
// engine keeps its JS Adam loop. Never fails the install. Run it again by hand: node native/build.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'adam.node');
const headerDirs = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
const compiler = ['c++', 'g++', 'clang++'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

if (process.platform === 'win32') {
  console.log('[native] not built: Windows (the engine uses its JS Adam loop)');
} else if (!include || !compiler) {
  console.log(`[native] not built: ${!compiler ? 'no C++ compiler (c++, g++, clang++)' : "Node's headers (node_api.h) not found in " + headerDirs.join(', ')}; the engine uses its JS Adam loop`);
} else {
  mkdirSync(dirname(out), { recursive: true });
  // -ffp-contract=off: no fused multiply-adds, so the results stay bit-identical to the JS loop. No
  // -march=native: the loop is memory-bound (the same 65-72 ms for LViT-T's 29.9 M parameters either
  // way), and a checkout copied to an older CPU must not crash on an illegal instruction.
  const args = ['-O3', '-ffp-contract=off', '-std=c++17', '-shared', '-fPIC', '-pthread', `-I${include}`, join(here, 'adam.cc'), '-o', out];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  const r = spawnSync(compiler, args, { encoding: 'utf8' });
  console.log(r.status === 0 ? `[native] built ${out}` : `[native] not built (${compiler} failed; the engine uses its JS Adam loop):\n${r.stderr}`);
}
