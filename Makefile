# The two commands of the README. Both install what is missing first (scripts/deps.sh).
.PHONY: run check build bench fuzz clean

build:
	bash scripts/deps.sh
	cmake --preset release >/dev/null
	cmake --build --preset release -j$$(nproc)

run: build
	./build/release/gatehouse dev

check:
	bash tests/run.sh

bench: build
	bash bench/run.sh

fuzz:
	bash scripts/deps.sh
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j$$(nproc)

clean:
	rm -rf build
