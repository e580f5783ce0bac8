#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works without a build step. The program is started
// by a call, not by recognizing this file's name, so that it also runs through a symlink (npm link) of any name.
require('tsx/cjs');
require('../src/cli/main.ts').runCli(process.argv);
