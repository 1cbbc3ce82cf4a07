/**
 * The image inspector of the one-shot commands (check, audit): `--plain-http` means "the registries of
 * the images these commands read are reached over plain HTTP" (a local or test registry), so those
 * registries are also let past the SSRF guard; `--allow-host` adds more hosts to it. Every registry
 * request gets the command's `--timeout`.
 */
import { ImageInspector } from '../facts/images/inspector.js'
import { parseReference } from '../facts/images/reference.js'

export interface CliImageOptions {
  /** The image references the command will look up. */
  images: Iterable<string>
  plainHttp: boolean
  allowHosts: readonly string[]
  timeoutS: number
}

export function cliImageInspector(opts: CliImageOptions): ImageInspector {
  const registries = new Set<string>()
  if (opts.plainHttp) {
    for (const image of opts.images) {
      try {
        registries.add(parseReference(image).registry)
      } catch {
        // an invalid reference is reported by the lookup itself
      }
    }
  }
  const hostOf = (r: string): string => r.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return new ImageInspector({
    plainHttp: [...registries],
    ssrf: { allow: [...opts.allowHosts, ...[...registries].map(hostOf)] },
    limits: { requestTimeoutMs: opts.timeoutS * 1000 },
  })
}
