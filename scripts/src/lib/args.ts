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

/** Comma-separated list flag, e.g. `--models unet,lvit-t`. */
export function listFlag(flags: Flags, name: string): string[] | undefined {
  const v = stringFlag(flags, name);
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}
