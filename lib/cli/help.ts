/** The CLI's help texts, rendered from the command table (commands.ts). */
import { COMMANDS, type CommandSpec, DOCS_DIR, type OptionSpec, REPOSITORY_README } from './commands';

export const PROGRAM = 'torch-cross-encoder';

function usageLine(command: CommandSpec): string {
  const args = command.args.map((a) => (a.required ? a.name : `[${a.name}]`)).join(' ');
  return `Usage: ${PROGRAM} ${command.name}${args ? ` ${args}` : ''}${command.options.length > 0 ? ' [options]' : ''}`;
}

function optionLabel(option: OptionSpec): string {
  const names = `${option.short ? `-${option.short}, ` : '    '}--${option.name}`;
  return option.type === 'boolean' ? names : `${names} ${option.value ?? 'VALUE'}`;
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.min(34, Math.max(...rows.map(([left]) => left.length)) + 2);
  return rows.map(([left, right]) => (left.length + 2 > width ? `  ${left}\n  ${' '.repeat(width)}${right}` : `  ${left.padEnd(width)}${right}`));
}

/** `<command> --help`: usage, arguments, every option with its default and description. */
export function commandHelp(command: CommandSpec): string {
  const lines = [usageLine(command), '', command.summary];
  if (command.args.length > 0) {
    lines.push('', 'Arguments:', ...table(command.args.map((a) => [a.name, a.description])));
  }
  if (command.options.length > 0) {
    lines.push('', 'Options:', ...table(command.options.map((o) => [optionLabel(o), `${o.description}${o.default ? ` (default: ${o.default})` : ''}`])));
  }
  if (command.notes) lines.push('', command.notes);
  return lines.join('\n');
}

/** `help` / `--help`: every command in one line each. */
export function overview(): string {
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...table(COMMANDS.map((c) => [c.name, c.summary])),
    '',
    `${PROGRAM} help <command> (or <command> --help) lists a command's options with their defaults.`,
    `${PROGRAM} --version prints the version.`,
    `Documentation: ${DOCS_DIR}/ (CLI.md, SERVER.md, EXPORT.md, ...) and ${REPOSITORY_README}`,
  ].join('\n');
}
