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

demo: build
	build/bin/saturn plan --profiles examples/profiles/sweep-12jobs-2nodes.json --gantt build/demo-plan.html
	@echo "Gantt chart: build/demo-plan.html"

bench: build
	build/bin/bench_planner

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
