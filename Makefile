# The two commands: `make demo` and `make test`. Both install Debian dependencies first
# (scripts/install-deps.sh is idempotent and quick when everything is present).
.PHONY: all deps build asan test test-asan demo bench format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan

# Every test, then libsaturn's tests again under AddressSanitizer + UBSan.
test: build asan
	ctest --preset default
	ctest --preset asan

# The main job, until `saturn run` exists: the paper's ImageNet sweep (12 jobs) estimated for one
# 8-GPU A100 node, simulated under Saturn and every baseline with runtimes off by up to 20%.
demo: build
	@mkdir -p build/demo
	build/bin/saturn simulate --workload examples/paper/imagenet.yaml \
	    --cluster examples/clusters/one-node-a100.yaml --runtime-error 0.2 --gantt build/demo/sim.html
	@echo "Gantt charts: build/demo/sim-<policy>.html"

bench: build
	build/bin/bench_planner
	build/bin/paper_table2

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
