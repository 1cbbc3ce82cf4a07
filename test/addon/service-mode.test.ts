// The add-on as a platform team installs it: the image built from the Dockerfile, `helm install` in
// service mode (the chart's default) on real worker nodes. This file builds the image first, in the
// host's network namespace (the build's npm ci needs the npm registry; the harness namespace has no
// route out), then re-executes itself inside the harness's own network and mount namespace
// (test/harness/own-netns.ts); the test is the body, which finds the images in the cache (the
// project's image and the helm-test curl stand-in, scripts/build-test-image.sh).
import { buildImage, buildTestImage } from '../harness/image.js'
import { insideOwnNamespaces, runInOwnNamespaces } from '../harness/own-netns.js'

// A cold image build alone can take longer than tap's per-file timeout (.taprc: 900 s), and this
// launcher does not load tap (its body prints the TAP output): tell the runner the file's timeout
// the way tap's own root t.setTimeout() does (@tapjs/core tap.js: an IPC message to the runner).
process.send?.({ setTimeout: 60 * 60_000, key: process.env['TAP_CHILD_KEY'], child: process.env['TAP_CHILD_ID'] })

if (!insideOwnNamespaces() && process.getuid?.() === 0) {
  await buildImage()
  await buildTestImage()
}
await runInOwnNamespaces(() => import('./service-mode.body.js'))
