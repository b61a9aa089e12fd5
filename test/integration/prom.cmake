# Prometheus integration tests (label integration): a real Prometheus
# (Debian's prometheus package) scraping examples/vllm-sim every second, the
# real `saturation-scaler serve` on it, and the independent Python client
# (test/integration/scaler.py, Debian's python3-grpcio). Helpers in
# test/integration/promstack.py; one ctest test per test_prom*.py file, each
# printing "N passed, N failed" last and exiting non-zero on failure.
#
# Free loopback ports and one temp dir per test process: ctest -j is fine.
# Needs /usr/bin/prometheus and /usr/bin/openssl (test/run.sh installs
# them), the vllm-sim target, and the message classes grpc.cmake generates
# into ${CMAKE_BINARY_DIR}/py (scaler.py generates them itself when absent).
if(NOT TARGET vllm-sim)
  message(WARNING "prometheus integration tests disabled: no vllm-sim target")
  return()
endif()
find_program(SAT_PROMETHEUS prometheus PATHS /usr/bin NO_DEFAULT_PATH)
find_program(SAT_OPENSSL_BIN openssl PATHS /usr/bin NO_DEFAULT_PATH)
find_program(SAT_PROTOC_FOR_PROM protoc PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SAT_PROMETHEUS OR NOT SAT_OPENSSL_BIN OR NOT SAT_PROTOC_FOR_PROM)
  message(WARNING "prometheus integration tests disabled: need /usr/bin/prometheus "
                  "(prometheus), /usr/bin/openssl (openssl) and /usr/bin/protoc "
                  "(protobuf-compiler)")
  return()
endif()

set(SAT_PROM_TEST_ENV
    "SAT_BINARY=$<TARGET_FILE:saturation-scaler>"
    "SAT_VLLM_SIM=$<TARGET_FILE:vllm-sim>"
    "SAT_PY_GEN=${CMAKE_BINARY_DIR}/py"
    "SAT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# name  timeout (s). Typical run times on 2 cores: prom ~65 s, outage ~35 s,
# slow ~15 s, auth ~10 s, load ~17 s (about 70 s in all with ctest -j2).
set(SAT_PROM_TESTS
    prom 240
    prom_outage 180
    prom_slow 120
    prom_auth 120
    prom_load 180)
while(SAT_PROM_TESTS)
  list(POP_FRONT SAT_PROM_TESTS name timeout)
  add_test(NAME ${name}
           COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.py)
  set_tests_properties(${name} PROPERTIES
                       LABELS integration
                       TIMEOUT ${timeout}
                       ENVIRONMENT "${SAT_PROM_TEST_ENV}")
endwhile()
