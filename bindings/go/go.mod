module fieldmerge.dev/fieldmerge

go 1.19
