// Module loadtest holds the Go programs of the load harness (hack/loadtest.sh):
// the order seeder, the freshness probe and the report. Standard library only,
// and outside go.work like hack/tools, so the harness never changes the
// services' dependencies; hack/loadtest.sh builds it with GOWORK=off.
module github.com/order-tracking/platform/hack/loadtest

go 1.26.0
