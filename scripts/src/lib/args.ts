/**
 * A small flag parser: `--name value`, `--name=value` and bare `--flag` (true). Unknown flags are
 * an error that lists the known ones, so a typo never silently runs the default.
 */
export type Flags = Record<string, string | boolean>;

export function parseFlags(argv: string[], known: Record<string, 'string' | 'boolean'>): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`Unexpected argument '${arg}'. Flags: ${listFlags(known)}`);
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const kind = known[rawName];
    if (!kind) throw new Error(`Unknown flag '--${rawName}'. Flags: ${listFlags(known)}`);
    if (kind === 'boolean') {
      flags[rawName] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value.startsWith('--')) throw new Error(`Flag '--${rawName}' needs a value`);
    flags[rawName] = value;
  }
  return flags;
}

function listFlags(known: Record<string, string>): string {
  return Object.keys(known)
    .map((k) => `--${k}`)
    .join(', ');
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Comma-separated list flag, e.g. `--models unet,lvit-t`: non-empty, without duplicates. */
export function listFlag(flags: Flags, name: string): string[] | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`Flag '--${name}' needs at least one value, got '${v}'`);
  const repeated = items.filter((x, i) => items.indexOf(x) !== i);
  if (repeated.length > 0) throw new Error(`Flag '--${name}' lists ${repeated[0]} more than once`);
  return items;
}

/** A list flag of non-negative integers, e.g. `--seeds 666,667`. */
export function intListFlag(flags: Flags, name: string): number[] | undefined {
  return listFlag(flags, name)?.map((item) => {
    if (!/^\d+$/.test(item)) throw new Error(`Flag '--${name}' takes non-negative integers, got '${item}'`);
    return Number(item);
  });
}
