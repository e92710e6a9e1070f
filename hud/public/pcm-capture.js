/**
 * AudioWorklet processor for the phone's hold-to-talk: takes the microphone at the audio context's rate and
 * posts 16 kHz mono signed 16-bit PCM in ~100 ms chunks (what the core's speech models take). Resampling
 * averages the input over each output sample's span, which also filters what would alias.
 */
const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE;
    this.position = 0; // input samples consumed towards the next output sample
    this.sum = 0;
    this.count = 0;
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') {
        this.post();
        this.port.postMessage('flushed');
      }
    };
  }

  post() {
    if (this.filled === 0) return;
    const chunk = this.out.slice(0, this.filled);
    this.port.postMessage(chunk.buffer, [chunk.buffer]);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.position++;
      if (this.position >= this.step) {
        this.position -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.count));
        this.out[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
        this.sum = 0;
        this.count = 0;
        if (this.filled === CHUNK_SAMPLES) this.post();
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);
