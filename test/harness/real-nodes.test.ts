// Integration test of the real worker nodes (real-nodes.ts): containerd + kubelet + CNI bridge inside a
// network namespace of the harness's own. This file only re-executes itself there (own-netns.ts);
// the test is real-nodes.body.ts (loaded in the namespace, so tap starts only there).
import { runInOwnNamespaces } from './own-netns.js'

await runInOwnNamespaces(() => import('./real-nodes.body.js'))
