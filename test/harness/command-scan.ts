/**
 * Which external commands the tests, the demo, the bench and the scripts run, found by reading
 * their source (test/fresh-machine.test.ts checks each one is installed by the project's scripts).
 * Pure functions over file texts; the test reads the files.
 *
 * TypeScript/JavaScript: the first argument of spawn, spawnSync, execFile, execFileSync, execSync,
 * exec, the harness's run() and spawnLogged() when it is a string literal or a same-file `const
 * NAME = 'literal'`; `process.execPath` is node; `toolPaths().x` / `tools.x` name a tool
 * scripts/build-tools.sh builds (camelCase of its binary name). `sh -c '...'` / `bash -c '...'`
 * strings and `ip netns exec <ns> <cmd>` argument lists are looked into. Anything else (a variable
 * holding a command) is reported as unresolved, with its place, so a reader can see what the scan
 * could not follow.
 * Shell: the word in command position of each simple command (after ; && || | $( ` then do else,
 * leading VAR=value assignments, sudo / "${SUDO[@]}" / exec), minus keywords, builtins and the
 * script's own functions.
 */

export interface Use {
  command: string
  file: string
  line: number
}

export interface Unresolved {
  expression: string
  file: string
  line: number
}

const SPAWNERS = /\b(spawn|spawnSync|execFile|execFileSync|execSync|exec|run|spawnLogged)\(\s*/g

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length

/** The first argument of a call starting at `from` (up to the first top-level comma or paren). */
function firstArgument(text: string, from: number): string {
  let depth = 0
  let quote: string | undefined
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
      continue
    }
    if (c === "'" || c === '"' || c === '`') quote = c
    else if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return text.slice(from, i).trim()
      depth--
    } else if (c === ',' && depth === 0) return text.slice(from, i).trim()
  }
  return text.slice(from).trim()
}

const literal = (expr: string): string | undefined => /^(['"`])([^'"`$]*)\1$/.exec(expr)?.[2]

const kebab = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

export function scanScript(file: string, text: string, builtTools: ReadonlySet<string>): { uses: Use[]; unresolved: Unresolved[] } {
  const uses: Use[] = []
  const unresolved: Unresolved[] = []
  const consts = new Map<string, string>()
  // const NAME = 'cmd' | process.env.X ?? 'cmd' | ['/usr/bin/cmd', '/bin/cmd'].find(...) | resolve(dir, 'x.sh')
  for (const m of text.matchAll(/^\s*(?:export\s+)?const\s+([A-Za-z_$][\w$]*)\s*(?::\s*[\w|\s]+)?=\s*(.*)$/gm)) {
    const lits = [...m[2]!.matchAll(/'([^']+)'|"([^"]+)"/g)].map((l) => l[1] ?? l[2]!)
    if (lits.length === 0 || /^[`\d{(]|^new\b/.test(m[2]!)) continue
    const v = m[2]!.includes('??') ? lits[lits.length - 1]! : lits[0]!
    if (!/^[\w./+-]+$/.test(v)) continue
    consts.set(m[1]!, v)
  }
  // run() is the harness's only when imported from it (tests have local run() helpers of their own).
  const harnessRun = /import\s*\{[^}]*\brun\b[^}]*\}\s*from\s*'[^']*\/(?:process|proc)\.js'/.test(text)
  for (const m of text.matchAll(SPAWNERS)) {
    const at = m.index! + m[0].length
    const line = lineOf(text, m.index!)
    if (m[1] === 'run' && !harnessRun) continue
    // `.exec(` of a RegExp or a method, `function run(`, a definition's typed parameters: not a child process.
    const before = text.slice(Math.max(0, m.index! - 10), m.index!)
    if (/\.$/.test(before) || /function\s+$/.test(before)) continue
    const expr = firstArgument(text, at)
    if (/^[A-Za-z_$][\w$]*\??\s*:/.test(expr) || expr.startsWith('[') || expr === '') continue
    const name = literal(expr) ?? consts.get(expr)
    let command: string | undefined
    if (name !== undefined) command = m[1] === 'execSync' || m[1] === 'exec' ? shellCommands(name)[0] : name
    else if (expr === 'process.execPath') command = 'node'
    else {
      const tool = /^(?:toolPaths\(\)|tools|this\.tools|paths)\.(\w+)$/.exec(expr)?.[1]
      if (tool !== undefined) {
        const bin = kebab(tool)
        command = builtTools.has(bin) ? bin : `${bin} (toolPaths().${tool})`
      }
    }
    if (command === undefined) {
      unresolved.push({ expression: expr, file, line })
      continue
    }
    if (/\.(sh|js|mjs|ts)$/.test(command)) continue // a script of the project's own (its folder is scanned)
    uses.push({ command: baseName(command), file, line })
    // sh -c '...' / bash -c '...': the commands inside the string.
    const rest = text.slice(at + expr.length, at + expr.length + 400)
    if ((command === 'sh' || command === 'bash') && /^\s*,\s*\[\s*'-c'\s*,/.test(rest)) {
      const script = literal(firstArgument(rest, rest.indexOf("'-c'") + 4 + rest.slice(rest.indexOf("'-c'") + 4).indexOf(',') + 1))
      if (script !== undefined) for (const c of shellCommands(script)) uses.push({ command: c, file, line })
    }
  }
  // ip netns exec <namespace> <command>: written as an argument list.
  for (const m of text.matchAll(/'netns'\s*,\s*'exec'\s*,\s*[^,\]]+,\s*'([\w.+-]+)'/g)) uses.push({ command: m[1]!, file, line: lineOf(text, m.index!) })
  return { uses, unresolved }
}

const baseName = (p: string): string => p.split('/').pop()!

const SHELL_WORDS = new Set([
  // keywords
  'if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'in', 'function', 'select', 'time', '!', '{', '}', '[[', ']]', '(', ')', '((', '))',
  // builtins
  '.', ':', '[', 'alias', 'bg', 'bind', 'break', 'builtin', 'caller', 'cd', 'command', 'compgen', 'complete', 'continue', 'declare', 'dirs', 'disown', 'echo', 'enable', 'eval', 'exec', 'exit',
  'export', 'false', 'fc', 'fg', 'getopts', 'hash', 'help', 'history', 'jobs', 'kill', 'let', 'local', 'logout', 'mapfile', 'popd', 'printf', 'pushd', 'pwd', 'read', 'readarray', 'readonly',
  'return', 'set', 'shift', 'shopt', 'source', 'suspend', 'test', 'times', 'trap', 'true', 'type', 'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
])

/** Commands in command position of a shell text (its own functions and builtins left out). */
export function shellCommands(text: string): string[] {
  return shellUses(text).map((u) => u.command)
}

/** shellCommands with the line (1-based) each was found on. */
export function shellUses(text: string): Array<{ command: string; line: number }> {
  const functions = new Set([...text.matchAll(/^\s*(?:function\s+)?([\w-]+)\s*\(\)\s*\{/gm)].map((m) => m[1]!))
  const out: Array<{ command: string; line: number }> = []
  let heredoc: string | undefined
  let n = 0
  for (const raw of text.split('\n')) {
    n++
    if (heredoc !== undefined) {
      if (raw.trim() === heredoc) heredoc = undefined
      continue
    }
    const hd = /<<-?\s*['"]?(\w+)['"]?/.exec(raw)
    if (hd) heredoc = hd[1]
    // drop comments and quoted strings (keeping $( ... ) inside double quotes)
    let line = raw
      .replace(/(^|\s)#.*$/, '$1')
      .replace(/'[^']*'/g, "''")
      .replace(/\$\(\([^)]*\)\)/g, '0') // arithmetic
      .replace(/\b[A-Za-z_]\w*\+?=\([^)]*\)/g, '') // array assignment
      .replace(/\bfor\s+\w+\s+in\b/g, 'for') // the loop variable
    line = line.replace(/"((?:[^"\\]|\\.)*)"/g, (_m, inner: string) => ' ' + [...inner.matchAll(/\$\(([^)]*)\)/g)].map((x) => `; ${x[1]} ;`).join(' ') + ' ')
    // case patterns: "pat)" at the start of a line
    line = line.replace(/^\s*[^\s()]+\)\s*/, '')
    for (let segment of line.split(/;;|&&|\|\||[;|&`]|\$\(|\(|\)|\bthen\b|\bdo\b|\belse\b|\{|\}/)) {
      segment = segment.trim()
      for (;;) {
        const next = segment.replace(/^(?:[A-Za-z_]\w*(?:\[[^\]]*\])?\+?=\S*\s*|!\s+|sudo\s+|exec\s+\d*[<>]?\S*\s*|exec\s+|command\s+(?!-v)|time\s+|"?\$\{SUDO\[@\]\}"?\s+|\d*[<>]&?\S*\s+)/, '')
        if (next === segment) break
        segment = next
      }
      const word = /^[^\s<>]+/.exec(segment)?.[0]
      if (word === undefined || word.startsWith('$') || word.startsWith('-') || /^\d/.test(word) || /[=\]"'}]/.test(word)) continue
      if (SHELL_WORDS.has(word) || functions.has(word) || word.startsWith('scripts/') || word.startsWith('./')) continue
      if (!/^[\w./+-]+$/.test(word) || !/[A-Za-z]/.test(word)) continue
      out.push({ command: baseName(word), line: n })
    }
  }
  return out
}

/** install-system-deps.sh's NEEDS table: each row's command (or absolute path) and package. */
export function parseInstallTable(text: string): Array<{ what: string; pkg: string }> {
  const block = /NEEDS=\(([\s\S]*?)\n\)/.exec(text)?.[1]
  if (block === undefined) throw new Error('install-system-deps.sh: no NEEDS=( ... ) table')
  return [...block.matchAll(/^\s*"(\S+)\s+(\S+)\s/gm)].map((m) => ({ what: m[1]!, pkg: m[2]! }))
}

/** The binaries scripts/build-tools.sh writes into its env output (KEY=$DIR/<binary>). */
export function parseBuiltTools(text: string): Set<string> {
  const block = /env_out="([\s\S]*?)"/.exec(text)?.[1]
  if (block === undefined) throw new Error('build-tools.sh: no env_out="..." block')
  return new Set([...block.matchAll(/=\S*\/([\w.-]+)$/gm)].map((m) => m[1]!))
}
