set -x
PFX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=$PFX > $OUT/cmake.log 2>&1; echo cmake=$?
tail -5 $OUT/cmake.log
time cmake --build build-gpu --target saturn_worker worker_tests -j16 > $OUT/build.log 2>&1; echo build=$?
grep -E "error" $OUT/build.log | head -20
build-gpu/bin/saturn-worker info
timeout 200 build-gpu/bin/worker_tests --gtest_filter='Models*:Training*' > $OUT/tests.log 2>&1; echo tests=$?; tail -3 $OUT/tests.log
timeout 300 bench/worker/throughput.sh build-gpu > $OUT/throughput.md 2> $OUT/throughput.err; echo bench=$?
cat $OUT/throughput.md; tail -5 $OUT/throughput.err
