/** The writer lives with the GGUF encoder in models/; the tests' other model files (whisper-ggml.ts) use it from here. */
export { ByteWriter } from '../../models/byte-writer.ts';
