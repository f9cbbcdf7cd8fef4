# Leadvault — the two commands are `make run` and `make test`; everything else is a building block.
# Nothing here reaches AWS or the internet at run time: the stand-ins listen on 127.0.0.1 only.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
NPM       ?= npm
BIN       := .leadvault/bin
FUNCTIONS := $(sort $(notdir $(wildcard functions/*)))
STAGE     ?= staging
SUDO      := $(if $(filter 0,$(shell id -u)),,sudo)
# A test run of the whole suite; the integration packages each start their own stand-ins.
GOTEST_FLAGS ?= -count=1 -timeout 15m

# Go 1.27.3 is the toolchain everything is built, tested and shipped with: the go command fetches it from
# the module proxy on first use. A machine's own Go (1.26.8 here) ignores go.mod's toolchain line, so the
# export is what counts; run `go` by hand with the same export (README).
GO_TOOLCHAIN := go1.27.3
export GOTOOLCHAIN := $(GO_TOOLCHAIN)
export CDK_DISABLE_CLI_TELEMETRY := true
export GOFLAGS := -buildvcs=false
# Node 24 LTS comes from the npm registry as a package that ships the binary (package.json's
# optionalDependencies, one per CPU); `npm ci` links it as node_modules/.bin/node, and putting that first on
# PATH makes the CDK CLI, jsii under the CDK Go bindings and the SES stand-in run on it instead of the
# machine's end-of-life Node 20 (which still runs `npm ci` itself).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
CDK := npx --no-install cdk --no-notices

# The Go vulnerability database, from the module that publishes it (golang.org/x/vulndb: OSV records in
# data/osv, and cmd/indexdb, which lays them out as the database govulncheck reads). `make test` scans
# against this pinned version, so a new advisory never turns an unchanged commit red; `make vulncheck` scans
# against the newest one. Raise the pin at the yearly review (docs/security-review.md) or when vulncheck
# finds something.
VULNDB_PINNED := v0.0.0-20261105234957-e22db6528018

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# ---- the two commands ---------------------------------------------------------------------------------

.PHONY: run
run: deps ## Run the whole stack locally (gateway :8080, DynamoDB, S3, KMS, SES, schedules). Ctrl-C stops it.
	$(GO) build -o $(BIN)/leadvault-run ./infra/local/run
	exec $(BIN)/leadvault-run

.PHONY: test
test: deps browser-deps lint phonenumbers-check vulncheck-pinned test-go synth ## Everything CI checks.
	@echo "make test: all checks passed"

# ---- installation -------------------------------------------------------------------------------------

.PHONY: deps
deps: node_modules/.installed java $(BIN)/local-kms ## Install what the stack needs (npm ci, Go modules, a JRE, local-kms).
	$(GO) mod download

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: java
java:
	@command -v java >/dev/null || { echo "installing a JRE for DynamoDB Local"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq default-jre-headless; }

.PHONY: browser-deps
browser-deps:
	@command -v chromium >/dev/null || { echo "installing Debian chromium for the browser test"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

$(BIN)/local-kms: infra/local/tools/go.mod infra/local/tools/go.sum
	$(GO) build -C infra/local/tools -o $(CURDIR)/$@ github.com/nsmithuk/local-kms

# ---- checks -------------------------------------------------------------------------------------------

.PHONY: lint
lint: ## gofmt, go vet, staticcheck.
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
		if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: test-go
test-go: deps browser-deps ## Unit, integration, fuzz-corpus, CDK-assertion and browser tests.
	LEADVAULT_REQUIRE_BROWSER=1 $(GO) test $(GOTEST_FLAGS) ./...

.PHONY: fuzz
fuzz: ## Fuzz each target for FUZZTIME (default 30s).
	@for t in "FuzzParse ./shared/formbody" "FuzzScan ./shared/guard" "FuzzParse ./shared/mailparse" \
		"FuzzMailToLead ./shared/mailintake"; do set -- $$t; \
		$(GO) test -run='^$$' -fuzz="^$$1$$" -fuzztime=$${FUZZTIME:-30s} $$2; done

.PHONY: bench
bench: deps ## Benchmarks of docs/benchmarks.md.
	$(GO) test -run='^$$' -bench=. -benchmem ./shared/... ./infra/local/runtimeapi/

.PHONY: vulncheck-pinned
vulncheck-pinned: ## govulncheck against the pinned vulnerability database; fails on any vulnerability the code reaches.
	@$(MAKE) -s govulncheck VULNDB_VERSION=$(VULNDB_PINNED)

.PHONY: vulncheck
vulncheck: build ## govulncheck (source and Lambda binaries) against the newest vulnerability database; npm audit.
	@v=$$(cd / && $(GO) list -m -f '{{.Version}}' golang.org/x/vulndb@latest); \
		echo "vulncheck: newest vulnerability database is golang.org/x/vulndb@$$v (pinned: $(VULNDB_PINNED))"; \
		$(MAKE) -s govulncheck VULNDB_VERSION=$$v GOVULNCHECK_BINARIES=1
	@./scripts/npm-audit

# govulncheck scans the main module, the stand-in tools module, the published phonenumbers module that
# third_party/phonenumbers is generated from (go.mod replaces it with the local copy, which govulncheck cannot
# match against advisories, so the upstream version is checked by module, its own dependencies raised to the
# newest as ours are), and, with GOVULNCHECK_BINARIES=1, every built
# bootstrap against the database of VULNDB_VERSION (built once into .leadvault/vulndb/<version>).
.PHONY: govulncheck
govulncheck: .leadvault/vulndb/$(VULNDB_VERSION)/index/db.json
	@db=file://$(CURDIR)/.leadvault/vulndb/$(VULNDB_VERSION); \
		echo "govulncheck ./... (db golang.org/x/vulndb@$(VULNDB_VERSION))"; \
		$(GO) tool govulncheck -db $$db ./...; \
		echo "govulncheck infra/local/tools (local-kms, the KMS stand-in)"; \
		$(GO) tool govulncheck -db $$db -C infra/local/tools github.com/nsmithuk/local-kms; \
		pn=$$($(GO) list -m -f '{{.Version}}' github.com/nyaruka/phonenumbers); \
		echo "govulncheck -scan module github.com/nyaruka/phonenumbers@$$pn (third_party/phonenumbers is generated from it)"; \
		tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		printf 'package main\n\nimport _ "github.com/nyaruka/phonenumbers"\n\nfunc main() {}\n' >"$$tmp/main.go"; \
		(cd "$$tmp" && $(GO) mod init upstream 2>/dev/null && \
			$(GO) mod edit -require=github.com/nyaruka/phonenumbers@$$pn && $(GO) mod tidy 2>/dev/null && \
			$(GO) get $$($(GO) list -m -f '{{if not .Main}}{{if ne .Path "github.com/nyaruka/phonenumbers"}}{{.Path}}@latest{{end}}{{end}}' all) 2>/dev/null && \
			$(GO) mod tidy 2>/dev/null); \
		$(GO) tool govulncheck -db $$db -C "$$tmp" -scan module; \
		if [ -n "$${GOVULNCHECK_BINARIES:-}" ]; then for b in dist/*/bootstrap; do \
			echo "govulncheck -mode=binary $$b"; $(GO) tool govulncheck -db $$db -mode=binary $$b; done; fi

.leadvault/vulndb/%/index/db.json:
	@echo "building the Go vulnerability database golang.org/x/vulndb@$* (once; cached in .leadvault/vulndb)"
	@src=$$(cd / && $(GO) mod download -json golang.org/x/vulndb@$* | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
		test -d "$$src/data/osv" || { echo "vulndb: no data/osv in golang.org/x/vulndb@$*" >&2; exit 1; }; \
		rm -rf .leadvault/vulndb/$*.tmp; \
		(cd / && GOFLAGS= $(GO) run golang.org/x/vulndb/cmd/indexdb@$* -vulns "$$src/data/osv" \
			-out $(CURDIR)/.leadvault/vulndb/$*.tmp); \
		rm -rf .leadvault/vulndb/$*; mv .leadvault/vulndb/$*.tmp .leadvault/vulndb/$*

# ---- build and deploy ---------------------------------------------------------------------------------

# The target for a deployment zip is 3.5 MiB. email-intake, notifier, controller and intake miss it
# (docs/benchmarks.md: email-intake carries MIME charset tables and an S3 client, notifier four AWS clients,
# the controller a Cognito client beside the DynamoDB and KMS ones, and both HTTP functions net/http's
# ServeMux and the Lambda HTTP adapter since issue #8, and every function that stores items the SDK's
# attributevalue and expression packages; jobs the KMS and S3 clients for subject requests since issue #9); their own budgets are regression guards at the
# measured size plus a small margin, not new targets.
ZIP_BUDGETS := -max-for notifier=4030464 -max-for email-intake=4554752 -max-for controller=4046848 \
	-max-for intake=3801088 -max-for jobs=4145152

.PHONY: build
build: ## Build every function for Lambda (arm64) into dist/<fn>.zip; fails on a zip over its budget.
	$(GO) run ./infra/local/lambdazip/cmd/lambdazip -out dist -go $(GO_TOOLCHAIN) $(ZIP_BUDGETS) \
		$(addprefix ./functions/,$(FUNCTIONS))

# third_party/phonenumbers is nyaruka/phonenumbers rewritten for cold start and size (docs/benchmarks.md);
# regenerate it, and the corpus its test holds it to, after changing the version go.mod requires.
.PHONY: phonenumbers
phonenumbers: ## Rewrite third_party/phonenumbers and its test corpus from the nyaruka/phonenumbers go.mod requires.
	./scripts/phonenumbers-gen
	./scripts/phonenumbers-corpus

.PHONY: phonenumbers-check
phonenumbers-check: ## Fail if third_party/phonenumbers is not exactly what scripts/phonenumbers-gen writes.
	@out=$(CURDIR)/.leadvault/phonenumbers-check; rm -rf "$$out"; \
		PHONENUMBERS_OUT="$$out" ./scripts/phonenumbers-gen >/dev/null; \
		diff -r third_party/phonenumbers "$$out" >/dev/null || { \
			echo "third_party/phonenumbers differs from what scripts/phonenumbers-gen writes; run make phonenumbers"; \
			diff -r third_party/phonenumbers "$$out" | head -40; exit 1; }; \
		rm -rf "$$out"; echo "third_party/phonenumbers is what scripts/phonenumbers-gen writes"

.PHONY: synth
synth: node_modules/.installed build ## Write the CloudFormation templates to cdk.out (no AWS account needed).
	$(CDK) synth -q

.PHONY: deploy
deploy: node_modules/.installed build ## Deploy STAGE (staging or production) to the AWS account in your credentials.
	$(CDK) deploy "$(STAGE)/*" --require-approval broadening

.PHONY: invoke
invoke: ## Run one function locally with an event: make invoke FN=intake EVENT=events/intake/urlencoded.json
	$(GO) run ./infra/local/invoke -fn $(FN) -event $(EVENT)

.PHONY: token
token: ## Mint a controller-API token from the running stack: make token ROLE=member TENANT=demo NAME=alice
	$(GO) run ./infra/local/token -role $(or $(ROLE),admin) -tenant $(or $(TENANT),demo) $(if $(NAME),-user $(NAME))

.PHONY: clean
clean: ## Remove build output and local data.
	rm -rf dist cdk.out .leadvault
