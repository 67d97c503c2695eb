# OpenCCM. `make test` is the whole test suite, as CI runs it: it starts
# (and on a fresh Debian machine installs) PostgreSQL, Chromium and a
# docker-registry with htpasswd authentication, checks
# formatting and vet, runs every test against SQLite and PostgreSQL and the
# console in a headless browser, and fuzzes briefly.

GO       ?= go
BIN      ?= bin/ccm
FUZZTIME ?= 5s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/openccm/openccm/internal/buildinfo.version=$(VERSION)

.PHONY: all build run test deps check unit fuzz-short screenshots clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ccm

run: build
	$(BIN) server --data-dir ./ccm-data

test: deps check unit fuzz-short

# C headers the cgo-only tests link against (the TPM simulator's libcrypto).
deps:
	@./scripts/ensure-libcrypto.sh

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

unit:
	@url=$${CCM_TEST_POSTGRES:-$$(./scripts/ensure-postgres.sh)}; \
	  chromium=$${CCM_CHROMIUM:-$$(./scripts/ensure-chromium.sh)}; \
	  registry=$${CCM_TEST_REGISTRY:-$$(./scripts/ensure-registry.sh | tail -n 1)}; \
	  echo "PostgreSQL for tests: $${url%%\?*}" | sed 's#//[^@]*@#//***@#'; \
	  echo "Chromium for the browser tests: $$chromium"; \
	  echo "docker-registry for the registry tests: $${registry%% *}"; \
	  CCM_TEST_POSTGRES="$$url" CCM_REQUIRE_POSTGRES=1 CCM_CHROMIUM="$$chromium" CCM_REQUIRE_BROWSER=1 \
	  CCM_TEST_REGISTRY="$$registry" CCM_REQUIRE_REGISTRY=1 \
	  $(GO) test -count=1 ./...

screenshots:
	CCM_UPDATE_SCREENSHOTS=1 CCM_TEST_REGISTRY="$$(./scripts/ensure-registry.sh | tail -n 1)" CCM_CHROMIUM=$$(./scripts/ensure-chromium.sh) $(GO) test -count=1 -run 'TestConsole|TestBuilds/on_SQLite' ./test/e2e/

fuzz-short:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-short.sh

clean:
	rm -rf bin
