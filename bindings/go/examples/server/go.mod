module fieldmerge.dev/examples/server

go 1.19

require (
	fieldmerge.dev/fieldmerge v0.0.0
	github.com/lib/pq v1.10.7
)

// No module proxy is reachable here: the binding is this repository's, and
// lib/pq is Debian's source (package golang-github-lib-pq-dev).
replace (
	fieldmerge.dev/fieldmerge => ../..
	github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
)
