/** Every command's --help teaches: examples, exit codes, and --json wherever a program would read the output. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main';

function helpOf(command: Command): string {
  let help = '';
  command.configureOutput({ writeOut: (text) => (help += text) });
  command.outputHelp();
  return help;
}

/** Commands whose output a script reads; the others run until stopped or print only a confirmation. */
const MACHINE_READABLE = [
  'gen',
  'validate',
  'plan',
  'start',
  'status',
  'budget',
  'report',
  'config',
  'call-schedule',
  'emulator',
  'temporal-cli',
];

describe('zim-migrate --help', () => {
  const program = buildProgram();

  it('documents the exit codes and the configuration precedence', () => {
    const help = helpOf(program);
    assert.match(help, /Exit codes \(every command\):\n\s+0\s+success\n\s+1\s+failure/);
    assert.match(help, /\n\s+2\s+bad usage or configuration/);
    assert.match(help, /flags > environment > config file > defaults/);
    assert.match(help, /--config <file>/);
  });

  it('gives every command examples and its exit codes', () => {
    const names = program.commands.map((c) => c.name());
    for (const expected of ['dev', 'worker', 'start', 'status', 'pause', 'resume', 'cancel', 'budget', 'config'])
      assert.ok(names.includes(expected), expected);
    for (const command of program.commands) {
      const help = helpOf(command);
      assert.match(help, /Examples?:\n\s+\$ (zim-migrate |[A-Z_]+=|"\$\()/, `${command.name()} has examples`);
      assert.match(help, /Exit codes: 0 /, `${command.name()} documents its exit codes`);
    }
  });

  it('offers --json on every command whose output a program reads', () => {
    for (const name of MACHINE_READABLE) {
      const command = program.commands.find((c) => c.name() === name);
      assert.ok(command, name);
      assert.ok(
        command.options.some((o) => o.long === '--json'),
        `${name} has --json`
      );
    }
  });

  it('shows the global --config option in each command that reads settings', () => {
    for (const name of ['worker', 'start', 'status', 'config'])
      assert.match(
        helpOf(program.commands.find((c) => c.name() === name)!),
        /Global Options:\n(.*\n)*?\s+--config <file>/
      );
  });
});
