// Small process and HTTP helpers for the bench (node: builtins only).
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
export { freePorts, httpGet, run, StopWaiting, waitFor, type RunResult } from '../../test/harness/process.js'






const live = new Set<ChildProcess>()
let installed = false
function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', () => {
    for (const c of live) if (c.pid) try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
  })
}

export interface Child {
  proc: ChildProcess
  pid: number
  logFile: string
  exited: Promise<void>
  stop(graceMs?: number): Promise<void>
  tail(lines?: number): string
}

/** Spawns a long-running child with stdout+stderr to logFile; killed when this process exits. */
export function spawnLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Child {
  installCleanup()
  const fd = openSync(logFile, 'a')
  let proc: ChildProcess
  try {
    proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env })
  } finally {
    closeSync(fd)
  }
  live.add(proc)
  const exited = new Promise<void>((r) => proc.once('exit', () => {
    live.delete(proc)
    r()
  }))
  return {
    proc,
    pid: proc.pid!,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    },
    tail(lines = 30) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n')
      } catch {
        return '(no log)'
      }
    },
  }
}

/** VmRSS and VmHWM (peak) of a process in MB, from /proc. */
export function procMemory(pid: number): { rssMB: number; peakMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0)
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 }
}

/** CPU seconds (user+system) of a process, from /proc/PID/stat. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
