# Integration (label integration) and scenario (label e2e) tests. Each area
# has its own fragment test/integration/<area>.cmake, included here.
# Tests that open ports pick free ones, so ctest -j2 works.
find_program(SAT_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SAT_SYSTEM_PYTHON)
  set(SAT_SYSTEM_PYTHON /usr/bin/python3)
endif()
file(GLOB SAT_INTEGRATION_FRAGMENTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cmake)
list(REMOVE_ITEM SAT_INTEGRATION_FRAGMENTS ${CMAKE_CURRENT_LIST_FILE})
foreach(f ${SAT_INTEGRATION_FRAGMENTS})
  include(${f})
endforeach()
