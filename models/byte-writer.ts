/** Little-endian binary output for the model files JARVIS writes (GGUF headers, the tests' model files), in 1 MiB chunks so multi-MB files stay cheap. */
export class ByteWriter {
  #chunks: Buffer[] = [];
  #current = Buffer.alloc(1 << 20);
  #used = 0;
  #previous = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#previous + this.#used;
  }

  #room(n: number): Buffer {
    if (this.#used + n > this.#current.length) {
      this.#chunks.push(this.#current.subarray(0, this.#used));
      this.#previous += this.#used;
      this.#current = Buffer.alloc(Math.max(1 << 20, n));
      this.#used = 0;
    }
    return this.#current;
  }

  u32(v: number): void {
    this.#room(4).writeUInt32LE(v, this.#used);
    this.#used += 4;
  }

  i32(v: number): void {
    this.#room(4).writeInt32LE(v, this.#used);
    this.#used += 4;
  }

  u64(v: number): void {
    this.#room(8).writeBigUInt64LE(BigInt(v), this.#used);
    this.#used += 8;
  }

  u16(v: number): void {
    this.#room(2).writeUInt16LE(v, this.#used);
    this.#used += 2;
  }

  /** Clamped to -128..127. */
  i8(v: number): void {
    this.#room(1).writeInt8(Math.max(-128, Math.min(127, v)), this.#used);
    this.#used += 1;
  }

  f32(v: number): void {
    this.#room(4).writeFloatLE(v, this.#used);
    this.#used += 4;
  }

  f32s(values: Float32Array): void {
    for (const v of values) this.f32(v);
  }

  /** A GGUF string: u64 byte length, then UTF-8. */
  str(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.bytes(bytes);
  }

  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length).set(bytes, this.#used);
    this.#used += bytes.length;
  }

  /** Zero bytes up to the next multiple of `alignment`. */
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.bytes(new Uint8Array(pad));
  }

  toBuffer(): Buffer {
    return Buffer.concat([...this.#chunks, this.#current.subarray(0, this.#used)]);
  }
}
