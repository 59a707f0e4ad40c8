import { registerModel } from '@lvit-bench/core';
import { TransUNet, TransUNetConfig } from './transunet.js';
import { UNet, UNetConfig } from './unet.js';

export * from './unet.js';
export * from './transunet.js';
export * from './transunet-npz.js';

registerModel<Omit<UNetConfig, 'seed'>>({
  name: 'unet',
  description: "U-Net of the LViT repository (nets/UNet.py): base 64, ConvTranspose up-sampling, 14.75 M parameters",
  usesText: false,
  create: (config) => new UNet(config),
});

registerModel<Omit<TransUNetConfig, 'seed'>>({
  name: 'transunet',
  description: 'TransUNet R50-ViT-B/16 (official Beckschen/TransUNet network code), one sigmoid output, 105.28 M parameters at 224; from scratch unless ImageNet-21k weights are loaded',
  usesText: false,
  create: (config) => new TransUNet(config),
});
