export { exportModelToOnnx, readOnnxModelInfo, IMAGE_NORMALISATION, ONNX_MODEL_FORMAT, type OnnxModelInfo } from './onnx-model.js';
export type { TraceOutcome } from './trace.js';
