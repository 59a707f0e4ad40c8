import { registerModel } from '@lvit-bench/core';
import { UNet, UNetConfig } from './unet.js';

export * from './unet.js';

registerModel<Omit<UNetConfig, 'seed'>>({
  name: 'unet',
  description: "U-Net of the LViT repository (nets/UNet.py): base 64, ConvTranspose up-sampling, 14.75 M parameters",
  usesText: false,
  create: (config) => new UNet(config),
});
