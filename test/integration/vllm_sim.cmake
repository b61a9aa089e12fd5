# vllm_sim (label integration): examples/vllm-sim end to end, driven by
# test_vllm_sim.py (standard library only, Debian's /usr/bin/python3): the
# exposition, the control API, startup delays, the success counter, bad
# requests, SIGTERM, and a real Prometheus scraping it when
# /usr/bin/prometheus is installed. Ports are picked free, so ctest -j works.
if(NOT TARGET vllm-sim)
  message(WARNING "vllm_sim test disabled: no vllm-sim target (examples/vllm-sim)")
  return()
endif()
add_test(NAME vllm_sim COMMAND ${SAT_SYSTEM_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_vllm_sim.py)
set_tests_properties(vllm_sim PROPERTIES
                     LABELS integration
                     TIMEOUT 180
                     ENVIRONMENT "SAT_VLLM_SIM=$<TARGET_FILE:vllm-sim>")
