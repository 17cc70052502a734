/**
 * A GitHub REST API simulator for the companion's tests, benchmarks and demo
 * (not product code). See README.md.
 */
export { createGitHubSimulator, type GitHubSimulator, type SimulatorOptions } from './server.js';
export { ALL_PERMISSIONS, fingerprint, type AppInfo, type Permissions, type PermissionName, type PermissionLevel, type TokenInput, type InstallationInput } from './auth.js';
export type { FaultController, FaultInput, Transform, RequestPattern } from './faults.js';
export type { LoggedRequest, RequestFilter, RequestLog } from './log.js';
export { seedAdminRepo, readSeedFile, type SeedFile, type SeedRepo, type SeedResult, type AdminRepoInput } from './seed.js';
export { gitBlobSha, SimulatorState, type Repo, type Issue, type WorkflowRun, type RunStatus, type RunConclusion } from './state.js';
