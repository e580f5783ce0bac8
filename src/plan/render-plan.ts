/** The plan as a table for people (the CLI prints JSON for programs with --json). */
import type { ActionPlan, Plan } from '../shared/migration-plan';
import { LANES_PER_OWNER } from '../shared/chains';
import { formatDuration } from '../shared/format-duration';

const num = (n: number) => n.toLocaleString('en-US');

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  );
}

/** An Action whose longest chain of calls, not its budget, sets its time. */
const chainBinds = (a: ActionPlan) => !a.perGroup && (a.chainSeconds ?? 0) > a.calls / a.rate;

export function renderPlan(plan: Plan): string {
  const c = plan.counts;
  const out: string[] = [];
  out.push('What will be imported');
  out.push(
    ...table(
      [
        [
          '  users',
          num(c.users),
          c.deactivatedUsers ? `${num(c.deactivatedUsers)} deactivated (registered, own no copies)` : '',
        ],
        ['  friendships', num(c.friends), ''],
        ['  blocks', num(c.blocks), ''],
        ['  groups', num(c.groups), `${num(c.groupMembers)} members with owners`],
        [
          '  one-to-one messages',
          num(c.peerMessages),
          `${num(c.peerCopies)} owner copies, ${num(c.conversations)} conversations of ${num(c.owners)} owners`,
        ],
        ['  group messages', num(c.groupMessages), ''],
      ],
      new Set([1])
    )
  );
  out.push('', 'ZIM calls per Action');
  out.push(
    ...table(
      [
        ['  Action', 'stage', 'calls', 'rate', 'time'],
        ...plan.actions
          .filter((a) => a.calls > 0)
          .map((a) => [
            `  ${a.action}`,
            a.stage,
            num(a.calls),
            a.perGroup ? `${a.rate}/s per group` : `${a.rate}/s`,
            formatDuration(a.seconds) +
              (a.perGroup ? ` (busiest group: ${num(a.maxCallsPerGroup ?? 0)} calls)` : '') +
              (chainBinds(a)
                ? ` (chain: ${num(a.chainSteps ?? 0)} steps × ${plan.stepMs} ms; budget alone ${formatDuration(a.calls / a.rate)})`
                : ''),
          ]),
      ],
      new Set([2])
    )
  );
  out.push('', 'Stages (* = critical path)');
  out.push(
    ...table(
      [
        ['  ', 'stage', 'calls', 'after', 'starts', 'takes'],
        ...plan.stages.map((s) => [
          s.critical ? '  *' : '  ',
          s.stage,
          num(s.calls),
          s.after.join(', ') || '-',
          formatDuration(s.start),
          formatDuration(s.seconds) + (s.chainBound ? ' (chain-bound)' : ''),
        ]),
      ],
      new Set([2, 4, 5])
    )
  );
  out.push('', `ETA ${formatDuration(plan.etaSeconds)} (critical path: ${plan.criticalPath.join(' → ')})`);
  const chained = plan.actions.filter(chainBinds);
  if (chained.length)
    out.push(
      `Chain term: ${chained.map((a) => `${a.action} ${formatDuration(a.chainSeconds!)}`).join(', ')}: calls that ` +
        `must go one after the other (an owner's conversations, ${LANES_PER_OWNER} at a time; a group's history) ` +
        `take longer than the rates allow; higher rates will not shorten ${chained.length > 1 ? 'these stages' : 'this stage'}`
    );
  if (plan.notImported.length) {
    out.push('', 'Not imported');
    out.push(
      ...table(
        plan.notImported.map((n) => [`  ${n.rule}`, n.severity, num(n.records), n.why]),
        new Set([2])
      )
    );
  }
  return out.join('\n');
}
