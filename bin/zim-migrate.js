#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works without a build step.
require('tsx/cjs');
require('../src/cli/main.ts');
