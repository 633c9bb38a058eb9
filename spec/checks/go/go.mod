module fieldmerge.dev/checks

go 1.19
