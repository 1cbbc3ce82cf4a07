import t from 'tap'
import { throwsWith } from '../helpers/facts.js'
import { decodeReview, uidFromPrefix, uidOf, apiVersionOf } from '../../src/admission/decode.js'
import { encodeReview } from '../../src/admission/encode.js'
import { isWasmAdmissionError } from '../../src/errors.js'
import { containersOf, podTemplateOf } from '../../src/domain/workload.js'

const ok = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: {} } }

t.test('decodeReview accepts v1 and v1beta1 and rejects the rest with codes', async (t) => {
  t.equal(decodeReview(ok).apiVersion, 'admission.k8s.io/v1')
  t.equal(decodeReview({ ...ok, apiVersion: 'admission.k8s.io/v1beta1' }).apiVersion, 'admission.k8s.io/v1beta1')
  const bad: Array<[unknown, string]> = [
    [null, 'WA_ERR_NOT_ADMISSION_REVIEW'],
    [[], 'WA_ERR_NOT_ADMISSION_REVIEW'],
    [{ ...ok, kind: 'Pod' }, 'WA_ERR_NOT_ADMISSION_REVIEW'],
    [{ ...ok, apiVersion: 'v1' }, 'WA_ERR_UNSUPPORTED_API_VERSION'],
    [{ ...ok, request: undefined }, 'WA_ERR_NO_REQUEST'],
    [{ ...ok, request: { ...ok.request, uid: '' } }, 'WA_ERR_NO_UID'],
    [{ ...ok, request: { ...ok.request, kind: undefined } }, 'WA_ERR_NOT_ADMISSION_REVIEW'],
    [{ ...ok, request: { ...ok.request, operation: 7 } }, 'WA_ERR_NOT_ADMISSION_REVIEW'],
    [{ ...ok, request: { ...ok.request, object: 'x' } }, 'WA_ERR_OBJECT_MALFORMED'],
  ]
  for (const [body, code] of bad) {
    throwsWith(t, () => decodeReview(body), (e: unknown) => isWasmAdmissionError(e) && e.code === code, code)
  }
})

t.test('uid and apiVersion are recovered from anything', async (t) => {
  t.equal(uidOf(ok), 'u')
  t.equal(uidOf('nope'), '')
  t.equal(uidOf({ request: { uid: 5 } }), '')
  t.equal(apiVersionOf({ apiVersion: 'admission.k8s.io/v1beta1' }), 'admission.k8s.io/v1beta1')
  t.equal(apiVersionOf({ apiVersion: 'x' }), 'admission.k8s.io/v1')
  t.equal(uidFromPrefix('{"kind":"AdmissionReview","request":{"kind":{"kind":"Pod"},"uid":"abc-123","object":{"metadata":{"uid":"zzz"'), 'abc-123')
  t.equal(uidFromPrefix('{"request":'), '')
})

t.test('encodeReview', async (t) => {
  const allowed = encodeReview('admission.k8s.io/v1', 'u', { allowed: true, patch: [], warnings: [], auditAnnotations: {} })
  t.same(allowed, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } }, 'empty patch, warnings and annotations are omitted')
  const patched = encodeReview('admission.k8s.io/v1beta1', 'u', { allowed: true, patch: [{ op: 'add', path: '/spec/runtimeClassName', value: 'spin' }] })
  t.equal(patched.apiVersion, 'admission.k8s.io/v1beta1')
  t.equal(patched.response?.patchType, 'JSONPatch')
  t.same(JSON.parse(Buffer.from(patched.response!.patch!, 'base64').toString()), [{ op: 'add', path: '/spec/runtimeClassName', value: 'spin' }])
  const denied = encodeReview('admission.k8s.io/v1', 'u', { allowed: false, message: 'no' })
  t.same(denied.response?.status, { code: 403, reason: 'Forbidden', message: 'no' })
})

t.test('pod templates are found in every workload kind', async (t) => {
  const spec = { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'y', command: ['/init'] }] }
  const kinds: Array<[string, string, Record<string, unknown>]> = [
    ['', 'Pod', { spec }],
    ['apps', 'Deployment', { spec: { template: { spec } } }],
    ['apps', 'StatefulSet', { spec: { template: { spec } } }],
    ['apps', 'DaemonSet', { spec: { template: { spec } } }],
    ['apps', 'ReplicaSet', { spec: { template: { spec } } }],
    ['batch', 'Job', { spec: { template: { spec } } }],
    ['batch', 'CronJob', { spec: { jobTemplate: { spec: { template: { spec } } } } }],
  ]
  for (const [group, kind, obj] of kinds) {
    const tpl = podTemplateOf({ group, version: 'v1', kind }, obj)
    t.ok(tpl, kind)
    t.same(containersOf(tpl!.spec).map((c) => [c.list, c.name, c.image, c.hasCommand]), [['initContainers', 'i', 'y', true], ['containers', 'a', 'x', false]], kind)
  }
  t.equal(podTemplateOf({ group: '', version: 'v1', kind: 'Secret' }, {}), undefined)
  t.equal(podTemplateOf({ group: '', version: 'v1', kind: 'Pod' }, { spec: 'x' }), undefined)
})
