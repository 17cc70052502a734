// npm run demo: build if needed, copy the example roster to a git-ignored
// working copy (demo/roster.json), and start the server on
// http://127.0.0.1:5000/ with secure cookies off and a printed facilitator token
// ("demo-" and 24 random characters, so longer than the 24 production requires).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = path.join(root, 'dist', 'server.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

if (!existsSync(built) || statSync(built).mtimeMs < newestSource(path.join(root, 'src'))) {
  console.log('Building the server...');
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const demoDir = path.join(root, 'demo');
const roster = path.join(demoDir, 'roster.json');
mkdirSync(demoDir, { recursive: true });
copyFileSync(path.join(root, 'examples', 'roster.example.json'), roster);

const port = process.env.PORT ?? '5000';
const token = process.env.COMPANION_FACILITATOR_TOKEN || `demo-${randomBytes(18).toString('base64url')}`;
const base = `http://127.0.0.1:${port}`;

console.log(`
GLOW Companion demo
  Roster working copy:  ${path.relative(root, roster)} (a copy of examples/roster.example.json)
  Registration page:    ${base}/register
  Facilitator sign-in:  ${base}/login
  Facilitator token:    ${token}
  Cohort dashboard:     ${base}/dashboard
  Redacted roster:      ${base}/roster.json
Secure cookies are off for this local HTTP demo. Press Ctrl+C to stop.
`);

const server = spawn(process.execPath, [built], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PORT: port,
    COMPANION_HOST: '127.0.0.1',
    COMPANION_ROSTER_PATH: roster,
    COMPANION_FACILITATOR_TOKEN: token,
    COMPANION_SECURE_COOKIES: '0',
    COMPANION_SECRET_KEY: process.env.COMPANION_SECRET_KEY || randomBytes(32).toString('base64'),
  },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 0));
