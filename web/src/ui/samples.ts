// Samples as pictures: each [C, H, W] image in [0, 1] drawn into a canvas at its own resolution (CSS scales
// it up with crisp pixels), in cards labelled with the class; a second canvas beside it shows the full
// compute run of the same request when one is compared.
import { el } from './dom.js';
import { formatDb } from './format.js';

/** Draws image k of [N, C, H, W] (C = 1 grey or 3 RGB) in [0, 1] into the canvas. */
export function drawImage(canvas: HTMLCanvasElement, images: Float32Array, k: number, shape: readonly number[]): void {
  const [, C, H, W] = shape;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  const base = k * C * H * W;
  for (let p = 0; p < H * W; p++) {
    for (let ch = 0; ch < 3; ch++) img.data[4 * p + ch] = Math.round(255 * images[base + (C === 1 ? 0 : ch) * H * W + p]);
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export interface SampleCards {
  /** draws sample k's current picture (a step's x_t, or the result) */
  show(k: number, images: Float32Array, index: number, shape: readonly number[]): void;
  /** the full compute run's picture of sample k and its PSNR against the cached one */
  showFull(k: number, images: Float32Array, shape: readonly number[], psnrDb: number): void;
}

/** One card per sample, in request order (class by class). */
export function renderSampleCards(container: HTMLElement, labels: readonly number[], className: (label: number) => string): SampleCards {
  container.replaceChildren();
  const cards = labels.map((label, k) => {
    const main = el('canvas', { class: 'sample', width: 28, height: 28, 'aria-label': `sample ${k}` });
    const full = el('canvas', { class: 'sample full', width: 28, height: 28, 'aria-label': `sample ${k}, full compute`, hidden: true });
    const psnr = el('span', { class: 'psnr' });
    const card = el('figure', { class: 'card' }, el('div', { class: 'pair' }, main, full), el('figcaption', {}, el('span', { class: 'cls' }, className(label)), psnr));
    container.append(card);
    return { main, full, psnr, card };
  });
  return {
    show: (k, images, index, shape) => drawImage(cards[k].main, images, index, shape),
    showFull: (k, images, shape, psnrDb) => {
      const c = cards[k];
      c.full.hidden = false;
      c.card.classList.add('compared');
      drawImage(c.full, images, k, shape);
      c.psnr.textContent = formatDb(psnrDb);
      c.psnr.title = 'PSNR of the cached sample against the full compute sample (same seed)';
    },
  };
}
