// End to end on real worker nodes (issue 13): containerd + kubelet per node, the wasmtime shim, inside a
// network namespace of the harness's own. This file only re-executes itself there
// (test/harness/own-netns.ts); the test is real-nodes.body.ts.
import { runInOwnNamespaces } from '../harness/own-netns.js'

await runInOwnNamespaces(() => import('./real-nodes.body.js'))
