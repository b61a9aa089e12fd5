# analyze_cli: the `analyze` subcommand end to end. Runs the real binary on
# every examples/analyze/*.json and on bad inputs (see analyze_cli.sh).
add_test(NAME analyze_cli
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/analyze_cli.sh $<TARGET_FILE:saturation-scaler>
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(analyze_cli PROPERTIES LABELS integration TIMEOUT 60
                     ENVIRONMENT "SAT_PYTHON=${SAT_SYSTEM_PYTHON}")
