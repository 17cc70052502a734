// Copies the templates beside the compiled code (dist/views), where the app looks for them.
import { cpSync, rmSync } from 'node:fs';

rmSync(new URL('../dist/views', import.meta.url), { recursive: true, force: true });
cpSync(new URL('../src/views', import.meta.url), new URL('../dist/views', import.meta.url), { recursive: true });
