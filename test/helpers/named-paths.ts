/**
 * The paths that README.md, the CLI's help and the library's error hints name, so that a test can
 * check each one exists where a user looks: in the installed package, or (for a README link to
 * the repository) in this repository.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The repository the package's README links to (package.json `repository`). */
export const REPOSITORY_URL = 'https://github.com/torch-cross-encoder/torch-cross-encoder';

/** A path a text names. */
export interface NamedPath {
  path: string;
  /** 1-based line in the text. */
  line: number;
  /** Named as a link into the repository (not expected in the package). */
  inRepository: boolean;
}

/** A folder of the package or the repository that paths start from. */
const PATH = /^(docs|deploy|scripts|bench|test|native|lib|models|prebuilds|cores|dist|build)\/[^\s`]*$/;

/**
 * The paths README.md names in its prose and tables, up to the clone's own section
 * (`## Working on the package`): `code` spans that are paths, and links. Code blocks hold commands
 * with the user's own paths and are left out.
 */
export function readmePaths(markdown: string): NamedPath[] {
  const end = markdown.indexOf('\n## Working on the package');
  const lines = (end < 0 ? markdown : markdown.slice(0, end)).split('\n');
  const found: NamedPath[] = [];
  let fenced = false;
  lines.forEach((text, i) => {
    if (text.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    for (const m of text.matchAll(/\[`([^`]+)`\]\(([^)]+)\)|`([^`]+)`/g)) {
      const [, linked, url, plain] = m;
      const named = linked ?? plain;
      // `lib/` alone is libtorch's library folder, not the package's.
      if (!PATH.test(named) || named === 'lib/') continue;
      if (linked !== undefined && !url.startsWith(`${REPOSITORY_URL}/`)) continue;
      found.push({ path: named, line: i + 1, inRepository: linked !== undefined });
    }
  });
  return found;
}

/** The installed-package paths a text names as `node_modules/torch-cross-encoder/...`, relative to the package. */
export function installedPaths(text: string): string[] {
  return [...text.matchAll(/node_modules\/torch-cross-encoder\/([^\s)`'",]*)/g)].map((m) => m[1].replace(/\.$/, ''));
}

/** The docs/ and scripts/ files the library's source names (its error hints point there). */
export function libraryPaths(libDir: string): string[] {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(file, 'utf8').matchAll(/\b(docs\/[A-Z-]+\.md|scripts\/[\w-]+\.(?:py|mjs))/g)) names.add(m[1]);
      }
    }
  };
  walk(libDir);
  return [...names].sort();
}

/** Whether `named` exists under `root`; `*` and `<tag>` stand for any one name. */
export function existsUnder(root: string, named: string): boolean {
  const parts = named.replace(/\/$/, '').split('/');
  const match = (dir: string, i: number): boolean => {
    if (i === parts.length) return true;
    const part = parts[i];
    if (part.includes('*') || /^<\w+>$/.test(part)) {
      const re = new RegExp(`^${part.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\<>]/g, '\\$&')).join('.*')}$`);
      const any = /^<\w+>$/.test(part);
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(dir);
      } catch {
        return false;
      }
      return entries.filter((e) => any || re.test(e)).some((e) => match(path.join(dir, e), i + 1));
    }
    const next = path.join(dir, part);
    return fs.existsSync(next) && match(next, i + 1);
  };
  return match(root, 0);
}
