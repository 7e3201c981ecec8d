# bytes4096.codex: one command for the test suite, one for the main job (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test deploy deploy-inventory demo-rotate demo-audit demo-offboard demo-down bootstrap lint sanity units build-check molecule bench

help:
	@echo "make test         - set up everything from a bare machine and run the whole suite"
	@echo "make deploy       - deploy Codex to the local demo fleet (podman) and print the audit summary"
	@echo "make deploy-inventory INVENTORY=path [VAULT_PASSWORD_FILE=path] - deploy your own fleet"
	@echo "make demo-rotate | demo-audit | demo-offboard | demo-down - rotate the demo key, audit, offboard bob, tear the demo down"
	@echo "make lint | sanity | units | build-check | molecule [SCENARIO=name] | bench"

test:
	bash scripts/test.sh

deploy:
	bash scripts/demo-deploy.sh

deploy-inventory:
	bash scripts/deploy-inventory.sh "$(INVENTORY)" "$(VAULT_PASSWORD_FILE)"

demo-rotate:
	bash scripts/demo-rotate.sh

demo-audit:
	bash scripts/demo-audit.sh

demo-offboard:
	bash scripts/demo-offboard.sh

demo-down:
	bash scripts/demo-down.sh

bootstrap:
	bash scripts/bootstrap.sh

lint sanity units build-check: bootstrap
	bash scripts/$@.sh

molecule: bootstrap
	bash scripts/molecule-all.sh $(SCENARIO)

bench: bootstrap
	bash bench/run.sh
