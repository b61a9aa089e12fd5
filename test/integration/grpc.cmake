# gRPC integration tests (label integration): an independent Python client
# (Debian's python3-grpcio + python3-protobuf, hand-written stubs, no
# grpc_tools) drives the real `saturation-scaler serve` binary.
#
# At build time the Python message classes are generated with Debian's protoc
# into ${CMAKE_BINARY_DIR}/py: externalscaler_pb2.py from proto/, and the
# health and both reflection protos from Debian's grpc-proto package (never
# copied into the tree). The test library test/integration/scaler.py loads
# them from SAT_PY_GEN.
#
# One ctest test per Python file; each prints "N passed, N failed" on its last
# line and exits non-zero on failure. Every test picks free ports, so
# `ctest -j` is fine.

find_program(SAT_PROTOC_PY protoc PATHS /usr/bin NO_DEFAULT_PATH)
set(SAT_GRPC_PROTO_DIR /usr/share/grpc-proto)
if(NOT SAT_PROTOC_PY OR NOT EXISTS ${SAT_GRPC_PROTO_DIR}/grpc/health/v1/health.proto)
  message(WARNING "grpc integration tests disabled: need /usr/bin/protoc (protobuf-compiler) "
                  "and ${SAT_GRPC_PROTO_DIR} (grpc-proto)")
  return()
endif()

set(SAT_PY_GEN ${CMAKE_BINARY_DIR}/py)
set(SAT_PY_GRPC_PROTOS
    grpc/health/v1/health.proto
    grpc/reflection/v1/reflection.proto
    grpc/reflection/v1alpha/reflection.proto)
set(SAT_PY_OUTPUTS ${SAT_PY_GEN}/externalscaler_pb2.py)
set(SAT_PY_DEPENDS ${CMAKE_SOURCE_DIR}/proto/externalscaler.proto)
foreach(p ${SAT_PY_GRPC_PROTOS})
  string(REGEX REPLACE "\\.proto$" "_pb2.py" out ${p})
  list(APPEND SAT_PY_OUTPUTS ${SAT_PY_GEN}/${out})
  list(APPEND SAT_PY_DEPENDS ${SAT_GRPC_PROTO_DIR}/${p})
endforeach()

add_custom_command(
  OUTPUT ${SAT_PY_OUTPUTS}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${SAT_PY_GEN}
  COMMAND ${SAT_PROTOC_PY} --python_out=${SAT_PY_GEN} -I ${CMAKE_SOURCE_DIR}/proto
          externalscaler.proto
  COMMAND ${SAT_PROTOC_PY} --python_out=${SAT_PY_GEN} -I ${SAT_GRPC_PROTO_DIR}
          ${SAT_PY_GRPC_PROTOS}
  DEPENDS ${SAT_PY_DEPENDS}
  COMMENT "protoc --python_out (externalscaler, health, reflection v1/v1alpha)")
add_custom_target(sat_py_protos ALL DEPENDS ${SAT_PY_OUTPUTS})

# The leak test only means something against an ASan build: when this build
# is one, hand it the binary; otherwise it skips (with a pass) unless the
# caller exports SAT_ASAN_BINARY.
set(SAT_GRPC_TEST_ENV
    "SAT_BINARY=$<TARGET_FILE:saturation-scaler>"
    "SAT_PY_GEN=${SAT_PY_GEN}"
    "SAT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

# name  timeout (s)
set(SAT_GRPC_TESTS
    rpc 120
    stream 120
    ops 180
    tls 120
    config 120
    http 120
    leak 300)
while(SAT_GRPC_TESTS)
  list(POP_FRONT SAT_GRPC_TESTS name timeout)
  set(env ${SAT_GRPC_TEST_ENV})
  if(name STREQUAL "leak" AND SAT_SANITIZE)
    list(APPEND env "SAT_ASAN_BINARY=$<TARGET_FILE:saturation-scaler>")
  endif()
  add_test(NAME grpc_${name}
           COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.py)
  set_tests_properties(grpc_${name} PROPERTIES
                       LABELS integration
                       TIMEOUT ${timeout}
                       ENVIRONMENT "${env}")
endwhile()
