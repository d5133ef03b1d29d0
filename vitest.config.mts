import { defineConfig } from 'vitest/config';
import { projectTorchDir } from './scripts/torch-python.mjs';

// The suite runs on two libtorches from one `npm test`: Debian's 1.13 (found by discovery) runs
// everything; PyTorch 2.13 from the project's .venv (scripts/setup.sh) runs every test that loads
// a model, and the sentence-transformers parity tests, whose models torch 2.13 exported.
// File names say where a new test file runs: `*.models.test.ts` on both libtorches (it loads
// models), `*.torch2.test.ts` only on torch 2.13 (e.g. torch.export packages), any other
// `*.test.ts` only on 1.13.
const torch2 = projectTorchDir('st6');
const modelTests = [
  'test/cross-encoder.test.ts',
  'test/lifecycle.test.ts',
  'test/scheduler.test.ts',
  'test/shared-batches.test.ts',
  'test/runtime.test.ts',
  'test/contract.test.ts',
  'test/pipeline.test.ts',
  'test/bundled-model.test.ts',
  'test/**/*.models.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Native work and child processes already use both cores of the CI machine.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'libtorch-1.13',
          include: ['test/**/*.test.ts'],
          exclude: ['test/st-parity.test.ts', 'test/**/*.torch2.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'torch-2.13',
          include: [...modelTests, 'test/st-parity.test.ts', 'test/**/*.torch2.test.ts'],
          // An explicit libtorch that is missing makes every model test skip and say so.
          env: { TCE_LIBTORCH: torch2 ?? '.venv (missing: run scripts/setup.sh)', TCE_TEST_LIBTORCH: 'torch-2.13' },
        },
      },
    ],
  },
});
