# fuzz: the replay tests of the fuzz targets (fuzz_replay_<name>, label
# unit) and, with -DSAT_FUZZ=ON under clang, the libFuzzer binaries. All of
# it lives in test/fuzz/ (see test/fuzz/CMakeLists.txt and test/fuzz/run.sh);
# this fragment only brings that directory into the build.
add_subdirectory(${CMAKE_SOURCE_DIR}/test/fuzz ${CMAKE_BINARY_DIR}/test/fuzz)
