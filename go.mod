module github.com/etwkit/etwkit

go 1.26.8

require (
	github.com/0xrawsec/golang-etw v1.6.2
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.32.0
)

require (
	github.com/0xrawsec/golang-utils v1.3.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
