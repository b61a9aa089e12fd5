# chart (label integration): charts/saturation-scaler rendered without helm
# and without a cluster. test/chart/check.py builds test/chart/render/main.go
# (Go's text/template + sprig + Helm's functions, from Debian's golang-go,
# golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev: nothing
# downloaded), renders the defaults and each scenario of test/chart/values/,
# parses every document with python3-yaml and checks it (RBAC exactly the
# issue's rules, security context, probes on the HTTP port, Services,
# ServiceMonitor, PDB, ConfigMap through `check-config`, NOTES.txt's
# ScaledObject; the combinations the chart refuses).
#
# chart_examples (label integration): examples/keda/*.yaml and
# examples/monitoring/ parse, leave metricType unset, carry the HPA
# behaviour block, the PodMonitor relabels llm-d.ai/variant to
# llm_d_ai_variant, the PromQL cheat-sheet names only metrics the binary
# exports; examples/config/config.json passes `check-config`.
add_test(NAME chart
         COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_SOURCE_DIR}/test/chart/check.py
                 ${CMAKE_SOURCE_DIR}/charts/saturation-scaler
                 --binary $<TARGET_FILE:saturation-scaler>)
set_tests_properties(chart PROPERTIES LABELS integration TIMEOUT 300)

add_test(NAME chart_examples
         COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_SOURCE_DIR}/test/chart/check_examples.py
                 ${CMAKE_SOURCE_DIR} --binary $<TARGET_FILE:saturation-scaler>)
set_tests_properties(chart_examples PROPERTIES LABELS integration TIMEOUT 120)
