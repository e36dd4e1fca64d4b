# The two commands: `make demo` and `make test`. Both install Debian dependencies first
# (scripts/install-deps.sh is idempotent and quick when everything is present).
.PHONY: all deps build asan test test-asan demo demo-clean demo-simulate bench format clean

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

# The main job: `saturn run` on the quickstart — a sweep of tiny GPT-2 models on text the
# project ships, profiled, planned and trained on this machine (CPU device slots, or its GPUs).
# A second `make demo` reuses the measurements and finds every job done; `make demo-clean` resets.
demo: build
	@mkdir -p build/demo
	build/bin/saturn run examples/quickstart.yaml --dir build/demo/run
	@echo "Report: build/demo/run/report.html"

demo-clean:
	rm -rf build/demo/run

# What-if: the paper's ImageNet sweep (12 jobs) estimated for one 8-GPU A100 node, simulated
# under Saturn and every baseline with runtimes off by up to 20%.
demo-simulate: build
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
