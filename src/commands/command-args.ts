/**
 * The argument handling the one-shot commands share (check, nodes, audit): node:util parseArgs with
 * no positionals, `-h/--help` (usage on stdout, exit 0), `-o/--output text|json`, `--timeout SECONDS`
 * (default 30), and a usage error (message and usage on stderr, exit 2) for anything wrong.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export interface CommandIo {
  stdout(s: string): void
  stderr(s: string): void
}

type Options = NonNullable<ParseArgsConfig['options']>

const SHARED_OPTIONS = {
  output: { type: 'string', short: 'o', default: 'text' },
  timeout: { type: 'string', default: '30' },
  help: { type: 'boolean', short: 'h' },
} satisfies Options

export interface CommandArgs<V> {
  /** The command's own options (as parseArgs returns them). */
  values: V
  output: 'text' | 'json'
  timeoutS: number
  /** Writes a usage error for this command; returns its exit code (2). */
  usage(msg: string): number
}

/** Parses `argv` with the command's own options plus the shared ones; a number is the exit code to return. */
export function parseCommandArgs<V>(command: string, usageText: string, argv: string[], io: CommandIo, options: Options): CommandArgs<V> | number {
  const usage = (msg: string): number => {
    io.stderr(`wasm-admission ${command}: ${msg}\n\n${usageText}`)
    return 2
  }
  let values: Record<string, unknown>
  try {
    ;({ values } = parseArgs({ args: argv, allowPositionals: false, options: { ...options, ...SHARED_OPTIONS } }))
  } catch (e) {
    return usage((e as Error).message)
  }
  if (values['help']) {
    io.stdout(usageText)
    return 0
  }
  const output = values['output']
  if (output !== 'text' && output !== 'json') return usage(`--output must be text or json, not ${JSON.stringify(output)}`)
  const timeoutS = Number(values['timeout'])
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return usage('--timeout must be a positive number of seconds')
  return { values: values as V, output, timeoutS, usage }
}
