// The bench's reading of the kube-apiserver's /metrics (bench/lib/apiserver-metrics.ts): which series
// it keeps, that it sums over the labels it drops, and that it keeps pod CREATEs only.
import t from 'tap'
import { keptSeries } from '../../bench/lib/apiserver-metrics.js'

const text = `# HELP apiserver_admission_webhook_admission_duration_seconds [STABLE] Admission webhook latency
# TYPE apiserver_admission_webhook_admission_duration_seconds histogram
apiserver_admission_webhook_admission_duration_seconds_bucket{name="mutate.x.io",operation="CREATE",rejected="false",type="admit",le="0.005"} 3
apiserver_admission_webhook_admission_duration_seconds_sum{name="mutate.x.io",operation="CREATE",rejected="false",type="admit"} 0.25
apiserver_admission_webhook_admission_duration_seconds_sum{name="mutate.x.io",operation="CREATE",rejected="true",type="admit"} 0.5
apiserver_admission_webhook_admission_duration_seconds_count{name="mutate.x.io",operation="CREATE",rejected="false",type="admit"} 10
apiserver_admission_webhook_admission_duration_seconds_sum{name="mutate.x.io",operation="UPDATE",rejected="false",type="admit"} 9
apiserver_admission_controller_admission_duration_seconds_sum{name="RuntimeClass",operation="CREATE",rejected="false",type="admit"} 1.5e-3
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 7
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="nodes",scope="resource",subresource="",verb="POST",version="v1"} 7
etcd_request_duration_seconds_sum{operation="create",type="/registry/pods"} 0.75
etcd_request_duration_seconds_sum{operation="create",type="/registry/nodes"} 4
apiserver_storage_objects{resource="pods"} 12
`

t.test('keeps the admission, request and etcd series of pod CREATEs, summed over dropped labels', async (t) => {
  t.same(keptSeries(text), {
    'apiserver_admission_webhook_admission_duration_seconds_sum{name=mutate.x.io,type=admit,operation=CREATE}': 0.75,
    'apiserver_admission_webhook_admission_duration_seconds_count{name=mutate.x.io,type=admit,operation=CREATE}': 10,
    'apiserver_admission_controller_admission_duration_seconds_sum{name=RuntimeClass,type=admit,operation=CREATE}': 0.0015,
    'apiserver_request_duration_seconds_sum{verb=POST,resource=pods}': 2,
    'etcd_request_duration_seconds_sum{operation=create,type=/registry/pods}': 0.75,
  })
})

t.test('an empty or foreign scrape keeps nothing', async (t) => {
  t.same(keptSeries(''), {})
  t.same(keptSeries('process_cpu_seconds_total 3\n'), {})
})
