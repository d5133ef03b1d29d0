/**
 * The TCE_ADDON_NOT_FOUND error: what was actually tried to get the native addon (a prebuild of
 * prebuilds/ for this platform and libc, a source build by the install script), why each gave
 * nothing, and the one fix that applies. node-gyp-build looks in build/Release (a source build)
 * and then prebuilds/<platform>-<arch>/ (prebuildify's N-API builds, tagged with their libc).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TceError } from './errors';

/** What is on disk in the package root, as the error describes it (read by the caller). */
export interface AddonSearch {
  packageRoot: string;
  /** The file node-gyp-build picked, null when it found none (then `error` is its "No native build"). */
  resolved: string | null;
  error: Error;
}

const TOOLCHAIN = 'a C++ toolchain, python3 and the headers of libutf8proc and Oniguruma (Debian/Ubuntu: `apt-get install build-essential python3 libutf8proc-dev libonig-dev`)';

/** The folder of the project that installed the package (node_modules/torch-cross-encoder's project), or null. */
function installingProject(packageRoot: string): string | null {
  const parent = path.dirname(packageRoot);
  return path.basename(parent) === 'node_modules' ? path.dirname(parent) : null;
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function addonNotFound({ packageRoot, resolved, error }: AddonSearch): TceError {
  const platform = `${process.platform}-${process.arch}`;
  const project = installingProject(packageRoot);
  const rebuild = project ? `cd ${project} && npm rebuild torch-cross-encoder` : `cd ${packageRoot} && npm run build:addon`;
  const sourceBuild = `install ${TOOLCHAIN}, then run \`${rebuild}\` (it compiles the addon; install scripts must be allowed for it)`;
  const reason = error.message.split('\n')[0];
  if (resolved !== null) {
    // A binary was there and the loader refused it: most often a glibc or libstdc++ older than
    // the one the prebuild was linked against.
    const prebuilt = resolved.includes(`${path.sep}prebuilds${path.sep}`);
    return new TceError('TCE_ADDON_NOT_FOUND',
      `The native addon ${resolved} did not load: ${reason}. ` +
        (prebuilt
          ? `The prebuilt addon needs Linux x64 with glibc 2.34 or later (GLIBC_2.34, GLIBCXX_3.4.30: Debian 12, Ubuntu 22.04 or newer); ` +
            `on an older system build it from source: ${sourceBuild}.`
          : `It is a source build: rebuild it: ${sourceBuild}.`),
      { cause: error });
  }
  const tags = list(path.join(packageRoot, 'prebuilds', platform)).filter((f) => f.endsWith('.node'));
  const platforms = list(path.join(packageRoot, 'prebuilds'));
  const prebuilds = tags.length > 0
    ? `the prebuilds for ${platform} (${tags.join(', ')}) do not fit this system (${reason.replace(/^No native build was found for /, '')})`
    : `there is no prebuilt addon for ${platform}` + (platforms.length > 0 ? ` (prebuilds/ has ${platforms.join(', ')})` : ' (this copy of the package has no prebuilds/)');
  // node-gyp makes build/ when it configures: its absence means no source build was started, which
  // is what happens when install scripts are blocked (--ignore-scripts, npm's allowScripts).
  const attempted = fs.existsSync(path.join(packageRoot, 'build'));
  const build = attempted
    ? `a source build was attempted (${path.join(packageRoot, 'build')} exists) and did not produce build/Release/tce.node`
    : 'no source build was attempted (the package\'s install script did not run: install scripts blocked, or the package was copied)';
  return new TceError('TCE_ADDON_NOT_FOUND',
    `The native addon was not found in ${packageRoot}: ${prebuilds}, and ${build}. To build it: ${sourceBuild}.`,
    { cause: error });
}
