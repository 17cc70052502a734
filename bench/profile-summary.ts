/**
 * Prints the self-time summary of one or more V8 CPU profiles:
 *   node --import tsx bench/profile-summary.ts bench/results/profiles-*\/*.cpuprofile [--top=N]
 */
import { formatProfile, summariseProfile } from './lib/profile.js';

const args = process.argv.slice(2);
const topArg = args.find((a) => a.startsWith('--top='));
const top = topArg ? Number(topArg.slice('--top='.length)) : 20;
const files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0 || !Number.isInteger(top) || top < 1) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile>... [--top=N]\n');
  process.exit(2);
}
for (const file of files) {
  process.stdout.write(`${formatProfile(await summariseProfile(file, top))}\n\n`);
}
