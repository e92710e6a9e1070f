/**
 * Hold-to-talk capture: the browser's microphone as 16 kHz mono s16le chunks (public/pcm-capture.js does the
 * resampling on the audio thread). Browsers give the microphone only to secure pages (HTTPS, or this computer
 * itself), so a phone on the LAN needs JARVIS's HTTPS mode.
 */

export class MicUnavailableError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

export class MicCapture {
  #stream: MediaStream | undefined;
  #context: AudioContext | undefined;
  #node: AudioWorkletNode | undefined;

  async start(onChunk: (pcm: Int16Array) => void): Promise<void> {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new MicUnavailableError(
        'this page is not secure, so the browser will not give it the microphone',
        'Turn on LAN access (server.lan: true): JARVIS then serves HTTPS. Open the https:// address the HUD shows.',
      );
    }
    try {
      this.#stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      throw new MicUnavailableError(`the microphone was refused (${(error as Error).name})`, 'Allow this page to use the microphone in the browser settings.');
    }
    this.#context = new AudioContext({ latencyHint: 'interactive' });
    await this.#context.audioWorklet.addModule('/pcm-capture.js');
    this.#node = new AudioWorkletNode(this.#context, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 0 });
    this.#node.port.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      if (event.data instanceof ArrayBuffer) onChunk(new Int16Array(event.data));
    };
    this.#context.createMediaStreamSource(this.#stream).connect(this.#node);
  }

  /** Sends what is still buffered, then releases the microphone. */
  async stop(): Promise<void> {
    const node = this.#node;
    if (node) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 300);
        node.port.addEventListener('message', (event: MessageEvent) => {
          if (event.data === 'flushed') {
            clearTimeout(timer);
            resolve();
          }
        });
        node.port.postMessage('flush');
      });
    }
    this.cancel();
  }

  /** Releases the microphone without sending the rest. */
  cancel(): void {
    this.#node?.disconnect();
    this.#stream?.getTracks().forEach((track) => track.stop());
    void this.#context?.close();
    this.#node = undefined;
    this.#stream = undefined;
    this.#context = undefined;
  }
}
