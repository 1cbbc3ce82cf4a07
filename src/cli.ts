#!/usr/bin/env node
/**
 * The composition root of the command line: the only module that touches `process`.
 */

type Command = (argv: string[], io: { env: Record<string, string | undefined>; stdout: (s: string) => void; stderr: (s: string) => void }) => Promise<number>

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'run the admission webhook (HTTPS /mutate and /validate, plain-HTTP health and metrics)',
    load: async () => {
      const { runServe } = await import('./commands/serve.js')
      return (argv, io) => runServe(argv, { ...io, signals: process })
    },
  },
  inspect: { summary: 'inspect images in their registries: Wasm or Linux, which runtime, with evidence', load: async () => (await import('./commands/inspect.js')).runInspect },
  check: { summary: 'show what the webhook would do with the Pods and workloads in a file', load: async () => (await import('./commands/check.js')).runCheck },
  audit: { summary: 'judge every workload of a live cluster as admission would now (exit 1 if any would be denied)', load: async () => (await import('./commands/audit.js')).runAudit },
  nodes: { summary: 'list RuntimeClasses by nodes, with why each node can or cannot run them', load: async () => (await import('./commands/nodes.js')).runNodes },
}

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return `wasm-admission: routes WebAssembly pods to shim-enabled nodes with the right RuntimeClass\n\nUsage: wasm-admission <command> [flags]\n\nCommands:\n${rows.join('\n')}\n\nRun 'wasm-admission <command> --help' for the flags of a command.\n`
}

async function main(argv: string[]): Promise<number> {
  const io = { env: process.env, stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) }
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage())
    return name ? 0 : 2
  }
  const command = COMMANDS[name]
  if (!command) {
    io.stderr(`wasm-admission: unknown command ${JSON.stringify(name)}\n\n${usage()}`)
    return 2
  }
  return (await command.load())(rest, io)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`wasm-admission: ${(e as Error)?.stack ?? String(e)}\n`)
    process.exitCode = 1
  },
)
