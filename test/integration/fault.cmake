# Fault tests (label integration): a misbehaving Prometheus (test_fault_prom.py:
# a fake of the test's own that never answers, answers late, 500, 429, HTML,
# truncated JSON, 100 MiB bodies, status "error"...) and misbehaving gRPC
# clients (test_fault_client.py: garbage requests and connections, metadata
# and message size limits, 10k streams whose client vanishes, clients killed
# mid-call; test_fault_strings.py: well-formed requests whose strings carry
# an embedded NUL or invalid UTF-8). Helpers in test/integration/faultstack.py,
# on top of scaler.py and promstack.py (no real Prometheus needed). Each
# prints "N passed, N failed" last and exits non-zero on failure; typical run
# times on 2 cores: fault_prom 35 s, fault_client 25 s, fault_strings 2 s.
#
# In a -DSAT_SANITIZE=ON build the binary is the ASan one, and
# SAT_ASAN_BINARY makes the tests also assert that no sanitizer report
# (LeakSanitizer, AddressSanitizer, UBSan) is in the scalers' stderr after
# SIGTERM. Free loopback ports and temp dirs per process: ctest -j is fine.
find_program(SAT_PROTOC_FOR_FAULT protoc PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SAT_PROTOC_FOR_FAULT OR NOT EXISTS /usr/share/grpc-proto/grpc/health/v1/health.proto)
  message(WARNING "fault tests disabled: need /usr/bin/protoc (protobuf-compiler) and "
                  "/usr/share/grpc-proto (grpc-proto)")
  return()
endif()

set(SAT_FAULT_TEST_ENV
    "SAT_BINARY=$<TARGET_FILE:saturation-scaler>"
    "SAT_PY_GEN=${CMAKE_BINARY_DIR}/py"
    "SAT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
if(SAT_SANITIZE)
  list(APPEND SAT_FAULT_TEST_ENV "SAT_ASAN_BINARY=$<TARGET_FILE:saturation-scaler>")
endif()

# name  timeout (s)
set(SAT_FAULT_TESTS
    prom 180
    client 180
    strings 60)
while(SAT_FAULT_TESTS)
  list(POP_FRONT SAT_FAULT_TESTS name timeout)
  add_test(NAME fault_${name}
           COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_fault_${name}.py)
  set_tests_properties(fault_${name} PROPERTIES
                       LABELS integration
                       TIMEOUT ${timeout}
                       ENVIRONMENT "${SAT_FAULT_TEST_ENV}")
endwhile()
