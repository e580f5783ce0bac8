/**
 * Bundles workflows/ once and caches the bundle on disk, keyed by the hash of the sources it can include and the
 * SDK version: test files run in separate processes, and webpack takes seconds per bundle.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { projectRoot } from '../shared/project-root';

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

function bundleKey(root: string, workflowsPath: string): string {
  const hash = createHash('sha256');
  const sdk = JSON.parse(readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as {
    version: string;
  };
  hash.update(sdk.version);
  // Workflows may import shared constants from src/; hashing both keeps the key honest.
  for (const file of [...sourceFiles(path.join(root, 'workflows')), ...sourceFiles(path.join(root, 'src'))]) {
    hash.update(path.relative(root, file)).update(readFileSync(file));
  }
  // Another entry (a test's workflows) bundles apart from the product's.
  if (workflowsPath !== defaultWorkflowsPath(root))
    hash.update(path.relative(root, workflowsPath)).update(readFileSync(workflowsPath));
  return hash.digest('hex').slice(0, 16);
}

const defaultWorkflowsPath = (root: string) => path.join(root, 'workflows', 'index.ts');

/** The product's workflows, or those of another entry file (test-only workflows that import only the SDK). */
export async function workflowBundle(workflowsPath?: string): Promise<WorkflowBundleWithSourceMap> {
  const root = projectRoot();
  const entry = workflowsPath ?? defaultWorkflowsPath(root);
  const cacheDir = path.join(root, 'node_modules', '.cache', 'zim-migrate');
  const file = path.join(cacheDir, `workflow-bundle-${bundleKey(root, entry)}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as WorkflowBundleWithSourceMap;
  const bundle = await bundleWorkflowCode({
    workflowsPath: entry,
    logger: {
      info: () => undefined,
      warn: () => undefined,
      error: console.error,
      debug: () => undefined,
      trace: () => undefined,
      log: () => undefined,
    },
  });
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(bundle));
    renameSync(tmp, file);
  } catch {
    // The cache only saves time; a read-only install (a container image) bundles at each start.
  }
  return bundle;
}
