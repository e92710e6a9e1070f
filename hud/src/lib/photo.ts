import { LIMITS } from '../../../core/protocol/wire.ts';

/**
 * "Look": a photo from the phone's camera (a live preview and a shutter) or one picked from the phone, made into a
 * JPEG of at most LIMITS.photoMaxSide pixels on its longer side before it is sent. Re-encoding keeps photos small
 * (a phone's own photo is several megabytes) and leaves their metadata behind (where and when it was taken, the
 * phone's make). Browsers give the camera only to secure pages (HTTPS, or this computer itself).
 */

export class PhotoError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** The camera's picture, live, for a preview and a shutter. */
export class CameraCapture {
  #stream: MediaStream | undefined;

  /** Starts the camera (the back one where there are two) and shows it in `video`. */
  async start(video: HTMLVideoElement): Promise<void> {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new PhotoError(
        'this page is not secure, so the browser will not give it the camera',
        'Turn on LAN access (server.lan: true): JARVIS then serves HTTPS. Or choose a photo instead.',
      );
    }
    try {
      this.#stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false });
    } catch (error) {
      throw new PhotoError(`the camera was refused (${(error as Error).name})`, 'Allow this page to use the camera in the browser settings, or choose a photo instead.');
    }
    video.srcObject = this.#stream;
    video.muted = true;
    video.playsInline = true;
    await video.play();
    // The first frame, so the shutter never takes a black picture.
    if (video.videoWidth === 0) await new Promise((resolve) => video.addEventListener('loadeddata', resolve, { once: true }));
  }

  /** The picture in `video` now, as a JPEG ready to send. */
  async shoot(video: HTMLVideoElement): Promise<Blob> {
    return toJpeg(video, video.videoWidth, video.videoHeight);
  }

  stop(): void {
    this.#stream?.getTracks().forEach((track) => track.stop());
    this.#stream = undefined;
  }
}

/** A picked file as a JPEG ready to send; a file that is not a picture the browser can read is refused here. */
export async function photoFromFile(file: Blob): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new PhotoError('that file is not a photo this browser can read', 'Choose a JPEG, PNG or WebP picture, or take one with the camera.');
  }
  try {
    return await toJpeg(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

async function toJpeg(source: CanvasImageSource, width: number, height: number): Promise<Blob> {
  if (!width || !height) throw new PhotoError('the camera gave no picture', 'Wait for the preview to show, then take the photo again.');
  let side: number = LIMITS.photoMaxSide;
  for (const quality of [0.85, 0.7, 0.55, 0.55, 0.55]) {
    const scale = Math.min(1, side / Math.max(width, height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    canvas.getContext('2d')!.drawImage(source, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
    if (!blob) break;
    if (blob.size <= LIMITS.photoBytes) return blob;
    // Still too big (a very detailed picture): smaller next time.
    if (quality === 0.55) side = Math.round(side * 0.7);
  }
  throw new PhotoError('the photo could not be made small enough to send', 'Take it again with less in view.');
}
