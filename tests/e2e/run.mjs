// Runs test files of this directory under `node --test` for ctest (tests/CMakeLists.txt).
// Exit 77, which ctest counts as skipped, only when MP_SKIP_BROWSER_TESTS=1; packages missing
// from node_modules are a failure that says how to install them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));

if (process.env.MP_SKIP_BROWSER_TESTS === '1') {
  console.log('skipped: MP_SKIP_BROWSER_TESTS=1');
  process.exit(77);
}

const { devDependencies } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const missing = Object.keys(devDependencies)
  .filter((name) => !fs.existsSync(path.join(dir, 'node_modules', name, 'package.json')));
if (missing.length > 0) {
  console.error(`error: ${missing.join(', ')} not installed in tests/e2e/node_modules\n` +
    '       run scripts/test, which installs them (or `npm ci` in tests/e2e);\n' +
    '       MP_SKIP_BROWSER_TESTS=1 skips the browser tests');
  process.exit(1);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node run.mjs FILE.test.mjs...');
  process.exit(2);
}
// One file at a time (each starts its own daemon and browser); Node before 20.10 has no such flag.
const args = ['--test', '--test-reporter=spec'];
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 20 || (major === 20 && minor >= 10)) args.push('--test-concurrency=1');
const result = spawnSync(process.execPath, [...args, ...files], { cwd: dir, stdio: 'inherit' });
if (result.error) {
  console.error(`error: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
