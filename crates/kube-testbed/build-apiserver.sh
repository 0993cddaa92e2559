#!/usr/bin/env bash
echo "kube-testbed build script not written yet" >&2
