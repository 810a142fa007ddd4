// --dry-run output: the host commands, one per line, quoted so they could be pasted
// into sh(1) on the FreeBSD host.
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function formatPlan(plan: string[][]): string {
  return plan.map((argv) => argv.map(shellQuote).join(' ')).join('\n');
}
