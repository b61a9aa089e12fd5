# The README's generated tables match the binary (they cannot drift).
add_test(NAME docs_tables
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/docs_check.sh $<TARGET_FILE:saturation-scaler>
                 ${CMAKE_SOURCE_DIR}/README.md)
set_tests_properties(docs_tables PROPERTIES LABELS integration TIMEOUT 30)
