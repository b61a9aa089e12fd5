# kube (label integration): the --kube (llm-d.ai/managed annotation) path,
# driven by test_kube.py against fakekube.py (a fake Kubernetes API server:
# Python's http.server over TLS with a bearer token, the chart's RBAC
# enforced), a real Prometheus (/usr/bin/prometheus) and the vLLM simulator.
# Needs what grpc.cmake needs (the Python message classes in SAT_PY_GEN)
# plus the vllm-sim target; openssl makes the certificates. Ports are picked
# free, so ctest -j works.
if(NOT TARGET sat_py_protos OR NOT TARGET vllm-sim)
  message(WARNING "kube test disabled: needs the grpc integration tests (protoc, grpc-proto) "
                  "and the vllm-sim target")
  return()
endif()

add_test(NAME kube COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_kube.py)
set_tests_properties(kube PROPERTIES
                     LABELS integration
                     TIMEOUT 600
                     ENVIRONMENT "SAT_BINARY=$<TARGET_FILE:saturation-scaler>;SAT_PY_GEN=${CMAKE_BINARY_DIR}/py;SAT_SOURCE_DIR=${CMAKE_SOURCE_DIR};SAT_VLLM_SIM=$<TARGET_FILE:vllm-sim>")
