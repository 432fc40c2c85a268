// Assembles src/cache/simd/kernels.wat into src/cache/simd/kernels-wasm.ts (base64), with wabt.
// Usage: npm run build:wasm   (the test suite checks the committed module still matches the source)
import fs from 'node:fs';
import { assembleKernels, KERNELS_TS_PATH, kernelsModuleSource } from './wasm-kernels.js';

const bytes = await assembleKernels();
const tmp = `${KERNELS_TS_PATH}.tmp`;
fs.writeFileSync(tmp, kernelsModuleSource(bytes));
fs.renameSync(tmp, KERNELS_TS_PATH);
console.log(`wrote ${KERNELS_TS_PATH} (${bytes.length} bytes of wasm)`);
