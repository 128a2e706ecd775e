# The two commands of the README are `make site` and `make test`; the rest are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := $(CURDIR)/.venv
LAB := python3 $(CURDIR)/tests/lab/lab
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export ANSIBLE_CONFIG := $(CURDIR)/tests/ansible.cfg

.PHONY: help setup lab-up lab-down lab-status site test sanity lint unit integration molecule docs

help:
	@echo "make site        bring the lab up and run playbooks/site.yml against it (the main job)"
	@echo "make test        every check: sanity, lint, unit, integration and molecule against the lab"
	@echo "make lab-up | lab-down | lab-status    the embedded lab alone"

setup:
	@tests/setup.sh

lab-up: setup
	@$(LAB) up

lab-down:
	@$(LAB) down

lab-status:
	@$(LAB) status

site: lab-up
	@$(LAB) site-vars >/dev/null && source <($(LAB) env) && \
	  ansible-playbook -i "$${LAB_DIR:-$(CURDIR)/.lab}/site/inventory.yml" playbooks/site.yml

test: setup
	@tests/run-tests.sh

sanity lint unit integration molecule docs: setup
	@tests/run-tests.sh $@
