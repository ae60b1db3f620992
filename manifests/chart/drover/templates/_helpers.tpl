{{- define "drover.labels" -}}
app.kubernetes.io/name: drover
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: drover
{{- end }}

{{- define "drover.selector" -}}
app.kubernetes.io/name: drover
app.kubernetes.io/component: controller
{{- end }}
