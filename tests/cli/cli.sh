#!/bin/bash
# The command line itself: help, version, option placement, exit codes.
. "$(dirname "$0")/lib.sh"

run --version
eq "--version: exit 0" "$rc" 0
contains "--version: names the program" "$out" "lxgpu "
run --help
eq "--help: exit 0" "$rc" 0
contains "--help: lists discover" "$out" "discover"
contains "--help: global options" "$out" "--sysroot DIR"
run discover --help
eq "discover --help: exit 0" "$rc" 0
contains "discover --help: usage line" "$out" "usage: lxgpu [GLOBAL] discover"
run -h
eq "-h: exit 0" "$rc" 0
run --lxcpath relative discover
eq "relative --lxcpath: exit 2" "$rc" 2
check "relative --lxcpath: one line" one_line_error
run --sysroot "" discover
eq "empty --sysroot: exit 2" "$rc" 2
run -x
eq "unknown short option: exit 2" "$rc" 2
contains "unknown short option: named" "$err" "-x: unknown option"

done_testing
