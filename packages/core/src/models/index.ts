import { registerModel } from '../registry.js';
import { LViT } from './lvit.js';
import { LViTConfig } from './lvit-config.js';

export * from './lvit-config.js';
export * from './lvit.js';
export * from './lvit-macs.js';

registerModel<Partial<LViTConfig>>({
  name: 'lvit-t',
  description: 'LViT with text (official LViT-T): BERT token features [B,10,768] enter the level-1 ViT through CTBN3',
  usesText: true,
  create: (config) => new LViT({ ...config, withText: true }),
});

registerModel<Partial<LViTConfig>>({
  name: 'lvit-tw',
  description: 'LViT without text (LViT-TW): the text path (text_module1..4, CTBN3) removed, everything else as LViT-T',
  usesText: false,
  create: (config) => new LViT({ ...config, withText: false }),
});
